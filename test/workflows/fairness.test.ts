/**
 * Fairness between runs on one task queue: every run's LLM calls carry a fairness key (its tenant,
 * or the run itself), and the dev server the tests start has fairness on. A 12-task run started
 * behind a 400-task run's backlog is dispatched alongside it, not after it.
 */
import type { FanOutResult } from '../../src/workflows/fan-out';
import { startHarness, type Harness } from '../helpers/harness';

const tasks = (n: number, p: string) => Array.from({ length: n }, (_, i) => ({ name: `${p} ${i}`, prompt: `${p} task ${i}` }));

describe('fairness between runs', () => {
  let h: Harness;
  beforeAll(async () => {
    // Five LLM slots in the worker: the big run's 400 calls queue up on the server, where fairness applies.
    h = await startHarness({ llm: { ttftMs: 100, perTokenMs: 0, outputTokens: 5 }, llmMaxConcurrent: 5 });
  });
  afterAll(async () => h?.close());

  const bigDoneWhenSmallFinished = async (small: Record<string, unknown>, big: Record<string, unknown>) => {
    const bigRun = await h.start('fanOut', { tasks: tasks(400, 'big'), maxConcurrent: 400, ...big });
    // Wait until the big run's backlog is queued and its calls are being served.
    while (h.llm.stats().requests.filter((q) => q.prompt.startsWith('big')).length < 20) await new Promise((r) => setTimeout(r, 20));
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(12, 'small'), ...small });
    const bigServed = h.llm.stats().requests.filter((q) => q.prompt.startsWith('big') && q.status === 200).length;
    console.log(`big calls served when the small run finished: ${bigServed}; small wall ${r.stats.wallClockMs} ms`);
    await bigRun.cancel();
    await bigRun.result().catch(() => undefined);
    return { r, bigServed };
  };

  test('a small run started behind a big one finishes long before the big one (fairness key: the run)', async () => {
    const { r, bigServed } = await bigDoneWhenSmallFinished({}, {});
    expect(r.stats.succeeded).toBe(12);
    // FIFO serves all 400 big calls first (measured with fairness off: 400, small run 9.6 s); with
    // fairness on four task-queue partitions the big one was about half way (200–231, 5.0 s); on
    // one partition (the dev server the project starts) the small run goes alongside: 32–33, 0.67 s.
    expect(bigServed).toBeLessThan(350);
  });

  test('tenants: two runs of one tenant share a key; another tenant is served alongside them', async () => {
    h.llm.reset();
    const { r, bigServed } = await bigDoneWhenSmallFinished({ tenant: 'team-b' }, { tenant: 'team-a' });
    expect(r.stats.succeeded).toBe(12);
    expect(bigServed).toBeLessThan(350);
  });
});
