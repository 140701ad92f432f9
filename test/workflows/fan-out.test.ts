/** fanOut on the real dev server with the local LLM server: order, limits, retries, partial failures. */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { FanOutResult } from '../../src/workflows/fan-out';
import { sharedHarness } from '../helpers/harness';

const tasks = (n: number, prefix = 'Company') => Array.from({ length: n }, (_, i) => ({ name: `${prefix} ${i + 1}`, prompt: `Research ${prefix} ${i + 1}` }));

describe('fanOut', () => {
  const h = sharedHarness({ llm: { ttftMs: 200, perTokenMs: 0, outputTokens: 20 } });

  test('returns every result in input order and never exceeds maxConcurrent at the LLM server', async () => {
    // Later tasks are faster, so completion order differs from input order.
    h.llm.setFaults([
      { match: 'Company 1', fault: { kind: 'latency', ttftMs: 800 } },
      { match: 'Company 2', fault: { kind: 'latency', ttftMs: 600 } },
    ]);
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(10), maxConcurrent: 3 });
    expect(r.results.map((x) => x.name)).toEqual(tasks(10).map((t) => t.name));
    expect(r.results.every((x) => x.success && x.output?.includes(`Research ${x.name}`))).toBe(true);
    expect(h.llm.stats().maxInFlight).toBeLessThanOrEqual(3);
    expect(h.llm.stats().maxInFlight).toBe(3);
    expect(h.llm.stats().calls).toBe(10);
    expect(r.stats).toMatchObject({ total: 10, succeeded: 10, failed: 0, successRate: 1 });
    expect(r.stats.tokens.output).toBe(200);
    expect(r.results[0].tokens.output).toBe(20);
    expect(r.results[0].attempts).toBe(1);
  });

  test('429 with retry-after: the call waits at least that long and goes again in the same attempt, then succeeds', async () => {
    h.llm.setFaults([{ match: 'Company 1', times: 1, fault: { kind: 'status', status: 429, retryAfterS: 2 } }]);
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(1) });
    // Throttling uses no attempt: the attempts are kept for real errors.
    expect(r.results[0]).toMatchObject({ success: true, attempts: 1, throttles: 1 });
    const arrivals = h.llm.stats().requests.map((q) => q.receivedAt);
    expect(arrivals).toHaveLength(2);
    expect(arrivals[1] - arrivals[0]).toBeGreaterThanOrEqual(2000);
  });

  test('529 twice then success, within one attempt', async () => {
    h.llm.setFaults([{ match: 'Company 1', times: 2, fault: { kind: 'status', status: 529 } }]);
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(1) });
    expect(r.results[0]).toMatchObject({ success: true, attempts: 1, throttles: 2 });
    expect(h.llm.countMatching('Company 1')).toBe(3);
  });

  test('500 twice then success uses attempts (a real error, retried by Temporal)', async () => {
    h.llm.setFaults([{ match: 'Company 1', times: 2, fault: { kind: 'status', status: 500 } }]);
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(1) });
    expect(r.results[0]).toMatchObject({ success: true, attempts: 3 });
    expect(r.results[0].throttles).toBeUndefined();
    expect(h.llm.countMatching('Company 1')).toBe(3);
  });

  test('a call throttled past its throttle deadline fails saying so, with attempts to spare', async () => {
    h.llm.setFaults([{ match: 'Company 1', fault: { kind: 'status', status: 429, retryAfterS: 1 } }]);
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(2), throttleDeadlineMs: 2500 });
    expect(r.results[0]).toMatchObject({ success: false, errorType: 'ThrottledTooLong', attempts: 1 });
    expect(r.results[0].error).toMatch(/throttled \d+ × \(last: 429\) for \d+ s, past the call's throttle deadline of 3 s/);
    expect(r.results[1].success).toBe(true);
    expect(h.llm.countMatching('Company 1')).toBeGreaterThanOrEqual(2);
  });

  test('a hang times out and is retried', async () => {
    h.llm.setFaults([{ match: 'Company 1', times: 1, fault: { kind: 'hang' } }]);
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(1), timeoutMs: 1500 });
    expect(r.results[0]).toMatchObject({ success: true, attempts: 2 });
    expect(h.llm.countMatching('Company 1')).toBe(2);
  });

  test('400 fails the task without a retry and keeps the API message', async () => {
    h.llm.setFaults([{ match: 'Company 2', fault: { kind: 'status', status: 400, message: 'prompt is too long: 999999 tokens' } }]);
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(2) });
    expect(r.results[1]).toMatchObject({ success: false, state: 'failed', errorType: 'BadRequest', attempts: 1 });
    expect(r.results[1].error).toContain('prompt is too long: 999999 tokens');
    expect(h.llm.countMatching('Company 2')).toBe(1);
    expect(r.results[0].success).toBe(true);
  });

  test('3 of 10 tasks failing permanently: 7 results, 3 failures with reasons, success rate 0.7', async () => {
    h.llm.setFaults(
      ['Company 3', 'Company 5', 'Company 9'].map((m) => ({ match: `Research ${m}`, fault: { kind: 'status' as const, status: 403, message: `no access for ${m}` } })),
    );
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(10), maxConcurrent: 4 });
    expect(r.stats).toMatchObject({ total: 10, succeeded: 7, failed: 3, successRate: 0.7 });
    const failed = r.results.filter((x) => !x.success);
    expect(failed.map((x) => x.name)).toEqual(['Company 3', 'Company 5', 'Company 9']);
    for (const f of failed) expect(f.error).toContain(`no access for ${f.name}`);
  });

  test('failFast cancels in-flight siblings and fails the run with the first error', async () => {
    h.llm.setFaults([{ match: 'Company 1', fault: { kind: 'status', status: 400, message: 'bad prompt' } }, { fault: { kind: 'latency', ttftMs: 5000 } }]);
    const handle = await h.start('fanOut', { tasks: tasks(4), failFast: true });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).message).toContain('Company 1');
    expect((cause as ApplicationFailure).message).toContain('bad prompt');
    // The three slow siblings were aborted at the LLM server, not left to finish.
    await waitFor(() => h.llm.stats().requests.filter((q) => q.aborted).length === 3);
    expect(h.llm.stats().requests.filter((q) => q.outcome === 'ok' && !q.aborted)).toHaveLength(0);
  });

  test('invalid input fails at once with a clear message and no LLM call', async () => {
    const handle = await h.start('fanOut', {
      tasks: [
        { name: 'a', prompt: 'x' },
        { name: 'a', prompt: '' },
      ],
      maxConcurrent: 0,
    });
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err.cause?.message).toMatch(/tasks\[1\]\.prompt: must not be empty/);
    expect(err.cause?.message).toMatch(/maxConcurrent: must be at least 1/);
    expect(h.llm.stats().calls).toBe(0);
  });
});

async function waitFor(pred: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
