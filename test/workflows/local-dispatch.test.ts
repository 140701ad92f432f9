/**
 * `llmDispatch: 'local'`: a run's LLM calls as local activities of the worker that runs the
 * workflow. What must hold: no activity task per call (a marker per call in the history), the same
 * results and timings as activities, bad input refused before any call, and no paying twice when
 * the worker dies before the workflow task that records the answers completes (the journal).
 * The fault matrix runs in both dispatch modes in faults.test.ts.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { FanOutResult } from '../../src/workflows/fan-out';
import type { DagResult } from '../../src/workflows/run-dag';
import { sharedHarness, startHarness, type Harness } from '../helpers/harness';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

jest.setTimeout(90_000);

const EventType = temporal.api.enums.v1.EventType;

describe('LLM calls as local activities', () => {
  // What the activities ask of the answer journal: each lookup's run and how far back it may look.
  const lookups: { runId: string; sinceMs?: number }[] = [];
  const h = sharedHarness({
    llm: { ttftMs: 100, perTokenMs: 0, outputTokens: 10 },
    wrapJournal: (j) => ({
      get: (key, sinceMs) => (lookups.push({ runId: key.runId, sinceMs }), j.get(key, sinceMs)),
      put: (key, answer) => j.put(key, answer),
      prune: () => j.prune(),
    }),
  });

  test('a fan-out: one marker per call and no activity task, results and durations as with activities', async () => {
    h.llm.setFaults([{ match: 'slow one', fault: { kind: 'latency', ttftMs: 800, perTokenMs: 0, outputTokens: 10 } }]);
    const handle = await h.start('fanOut', {
      llmDispatch: 'local',
      maxConcurrent: 2,
      tasks: [
        { name: 'slow', prompt: 'the slow one' },
        { name: 'a', prompt: 'fast a' },
        { name: 'b', prompt: 'fast b' },
        { name: 'c', prompt: 'fast c' },
      ],
    });
    const r = (await handle.result()) as FanOutResult;
    expect(r.results.map((x) => [x.name, x.state, x.attempts])).toEqual([
      ['slow', 'succeeded', 1],
      ['a', 'succeeded', 1],
      ['b', 'succeeded', 1],
      ['c', 'succeeded', 1],
    ]);
    expect(r.results[1].output).toContain('fast a');
    expect(r.results[0].durationMs).toBeGreaterThanOrEqual(800);
    expect(r.results[1].durationMs).toBeLessThan(800);
    // k = 2: the three fast calls ran one after another beside the slow one, never more than 2 at once.
    expect(h.llm.stats().calls).toBe(4);
    expect(h.llm.stats().maxInFlight).toBe(2);
    const events = (await handle.fetchHistory()).events ?? [];
    const count = (t: temporal.api.enums.v1.EventType) => events.filter((e) => e.eventType === t).length;
    expect(count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).toBe(0);
    expect(count(EventType.EVENT_TYPE_MARKER_RECORDED)).toBe(4);
    expect(r.stats.wallClockMs).toBeGreaterThanOrEqual(800);
    // Every call looked in the journal (a local activity cannot tell a first execution from a
    // re-run), no further back than its run's start.
    const run = await handle.describe();
    const started = run.startTime.getTime();
    const mine = lookups.filter((l) => l.runId === run.runId);
    expect(mine).toHaveLength(4);
    // (workflowInfo().runStartTime and describe's startTime differ by a few ms.)
    for (const l of mine) expect(Math.abs((l.sinceMs ?? NaN) - started)).toBeLessThan(1000);
  });

  test('a wrong llmDispatch is refused before any call, naming the field and the choices', async () => {
    const handle = await h.start('fanOut', { llmDispatch: 'remote', tasks: [{ name: 'a', prompt: 'x' }] });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause?.message).toMatch(/llmDispatch/);
    expect(err.cause?.message).toMatch(/activity/);
    expect(err.cause?.message).toMatch(/local/);
    expect(h.llm.stats().calls).toBe(0);
  });

  test('a DAG: a dependent starts the moment its local call returns, while a slow sibling still runs', async () => {
    h.llm.setFaults([{ match: 'node-b', fault: { kind: 'latency', ttftMs: 2000 } }]);
    const r = await h.run<DagResult>('runDag', {
      llmDispatch: 'local',
      nodes: [
        { id: 'a', prompt: 'node-a' },
        { id: 'b', prompt: 'node-b' },
        { id: 'c', prompt: 'node-c after {{a}}', dependsOn: ['a'] },
      ],
    });
    expect(r.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const req = (p: string) => h.llm.stats().requests.find((q) => q.prompt.includes(p))!;
    expect(req('node-c').prompt).toContain('node-a');
    expect(req('node-c').receivedAt).toBeLessThan(req('node-b').finishedAt!);
  });
});

describe('a worker killed while its local LLM calls are answered but not yet recorded', () => {
  let h: Harness;
  let proc: WorkerProcess | undefined;
  beforeEach(async () => {
    h = await startHarness({ startWorkers: false, llm: { ttftMs: 50, perTokenMs: 0, outputTokens: 20 } });
  });
  afterEach(async () => {
    proc?.kill();
    proc = undefined;
    await h?.close();
  });

  test('the workflow task is retried on a new worker, the calls run again and find their answers in the journal: one request each', async () => {
    proc = await startWorkerProcess({
      TEMPORAL_ADDRESS: h.address,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      ANTHROPIC_BASE_URL: h.llm.url,
      LLM_JOURNAL_DIR: h.journalDir,
      PAYLOAD_STORE_DIR: h.payloadStoreDir,
      CACHE_DIR: h.cacheDir,
      TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS: '60000',
      LOG_LEVEL: 'WARN',
    });
    const handle = await h.start('fanOut', {
      llmDispatch: 'local',
      tasks: [
        { name: 'one', prompt: 'Answer once, pay once: one.' },
        { name: 'two', prompt: 'Answer once, pay once: two.' },
      ],
    });
    const deadline = Date.now() + 30_000;
    while ((proc.output().match(/TEST-ONLY pause after the LLM answer/g) ?? []).length < 2) {
      if (Date.now() > deadline) throw new Error(`the worker never paused after both answers:\n${proc.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(h.llm.stats().calls).toBe(2);
    // Nothing of the run's calls is in its history yet: the workflow task holding them is open.
    const before = (await handle.fetchHistory()).events ?? [];
    expect(before.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED)).toHaveLength(0);
    proc.kill();
    proc = undefined;
    // A new worker (in this process, same journal) gets the workflow task once it times out.
    await h.startWorkers();
    const r = (await handle.result()) as FanOutResult;
    expect(r.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded']);
    expect(r.results[0].output).toContain('one.');
    expect(r.results[1].output).toContain('two.');
    expect(r.results[0].tokens.output).toBe(20);
    expect(h.llm.stats().calls).toBe(2);
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT).length).toBeGreaterThanOrEqual(1);
  });
});
