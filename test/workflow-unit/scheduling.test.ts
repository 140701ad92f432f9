/**
 * The scheduler's semantics in workflow code (executeGraph and runBounded), on Temporal's
 * time-skipping test server with stubbed activities: no dev server, no LLM fake, no SDK. Each
 * test holds the calls it needs in flight, so orders and states are exact, not timing-dependent.
 *
 * The test server mishandles a cancellation that reaches an activity which is scheduled but not
 * yet started (its workflow task then never completes): every test cancels only calls that have
 * started and are held, which is also what makes their outcomes exact.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Progress } from '../../src/core/progress';
import type { TaskResult } from '../../src/core/tasks';
import { progressQuery } from '../../src/protocol';
import type { NodeResult } from '../../src/workflows/lib/graph';
import { Stubs, UnitEnv } from './env';
import type { BoundedInput, BoundedRun, GraphInput, GraphRun } from './workflows';

let unit: UnitEnv;
let started: number;

beforeAll(async () => {
  unit = await UnitEnv.start();
  started = Date.now();
}, 60_000);
afterAll(async () => {
  console.log(`workflow-unit scheduling tests: ${Date.now() - started} ms of real time once the test server was up`);
  await unit?.teardown();
});

type Drive = (h: WorkflowHandle, stubs: Stubs) => Promise<void>;

/** Runs a test workflow whose activities are the stubs; `drive` steers it (holds, releases, cancels) before its result is awaited. */
async function run<R>(
  type: 'graphWorkflow' | 'boundedWorkflow',
  input: GraphInput | BoundedInput,
  stubs: Stubs,
  drive?: Drive,
): Promise<{ result?: R; failure?: ApplicationFailure }> {
  const h = await unit.start(type, input, stubs);
  let timer: NodeJS.Timeout | undefined;
  try {
    await drive?.(h, stubs);
    const timeout = new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${type} did not finish within 15 s; calls started: ${stubs.started.join(', ')}`)), 15_000)),
    );
    return { result: (await Promise.race([h.result(), timeout])) as R };
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) return { failure: err.cause };
    throw err;
  } finally {
    clearTimeout(timer);
    // A test that failed half-way leaves its run behind: end it, so it holds nothing for the next test.
    if ((await h.describe()).status.name === 'RUNNING') await h.terminate('test over');
  }
}
const graph = (input: GraphInput, stubs = new Stubs(), drive?: Drive) => run<GraphRun>('graphWorkflow', input, stubs, drive);
const bounded = (input: BoundedInput, stubs = new Stubs(), drive?: Drive) => run<BoundedRun>('boundedWorkflow', input, stubs, drive);

/** Polls the run's progress query until `check` holds. */
async function untilProgress(h: WorkflowHandle, check: (p: Progress) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check(await h.query(progressQuery))) {
    if (Date.now() > deadline) throw new Error('progress never got there');
    await new Promise((r) => setTimeout(r, 5));
  }
}
/** A call cancelled while it ran. */
const cancelledInFlight = (id: string, name: string) => ({
  taskId: id,
  name,
  state: 'cancelled',
  success: false,
  output: null,
  error: 'cancelled',
  errorType: 'Cancelled',
  durationMs: expect.any(Number),
  attempts: 0,
  tokens: ZERO,
});

const byId = (results: NodeResult[]) => Object.fromEntries(results.map((r) => [r.taskId, r]));
const ZERO = { input: 0, output: 0 };
/** The TaskResult fields of a result (runBounded's budget-refused results also carry their task's own fields). */
const resultFields = (r: TaskResult) => {
  const { taskId, name, state, success, output, error, errorType, durationMs, attempts, tokens } = r;
  return { taskId, name, state, success, output, error, errorType, durationMs, attempts, tokens };
};
/** What a stubbed LLM call that succeeded returns, as a TaskResult. */
const succeededLlm = (id: string, name: string) => ({
  taskId: id,
  name,
  state: 'succeeded',
  success: true,
  output: `output of ${id}`,
  error: null,
  errorType: null,
  durationMs: 10,
  attempts: 1,
  tokens: { input: 10, output: 5 },
  model: 'stub-model',
  stopReason: 'end_turn',
  truncated: false,
  costUsd: 0,
});
const cancelledBeforeStart = (id: string, name: string) => ({
  taskId: id,
  name,
  state: 'cancelled',
  success: false,
  output: null,
  error: 'cancelled before it started',
  errorType: 'Cancelled',
  durationMs: 0,
  attempts: 0,
  tokens: ZERO,
});

describe('executeGraph', () => {
  test('under a cap, the ready node with the longest remaining path gets the slot first', async () => {
    // b → c is the critical path when c is heavy: b, then c (ready after b) ahead of a, which waited all along.
    const heavy = new Stubs();
    await graph({ maxConcurrent: 1, nodes: [{ id: 'a' }, { id: 'b' }, { id: 'c', dependsOn: ['b'], weight: 10 }] }, heavy);
    expect(heavy.started).toEqual(['b', 'c', 'a']);
    // With equal weights b still leads (two nodes behind it), then a outranks c (same path length, smaller id).
    const equal = new Stubs();
    const { result } = await graph({ maxConcurrent: 1, nodes: [{ id: 'a' }, { id: 'b' }, { id: 'c', dependsOn: ['b'] }] }, equal);
    expect(equal.started).toEqual(['b', 'a', 'c']);
    expect(equal.maxInFlight).toBe(1);
    // Results stay in the given order, with their place in the graph.
    expect(result!.outcome.results.map((r) => [r.taskId, r.state, r.level, r.dependsOn])).toEqual([
      ['a', 'succeeded', 0, []],
      ['b', 'succeeded', 0, []],
      ['c', 'succeeded', 1, ['b']],
    ]);
    expect(result!.outcome.criticalPath).toEqual(['b', 'c']);
    expect(result!.outcome.idealMakespanMs).toBe(20);
  });

  test('a node starts the moment its own dependencies finish, not when its level does', async () => {
    const stubs = new Stubs({ hold: ['slow', 'next'] });
    const { result } = await graph({ nodes: [{ id: 'fast' }, { id: 'slow' }, { id: 'next', dependsOn: ['fast'] }] }, stubs, async (h, s) => {
      await s.whenStarted(3);
      s.release('next');
      await untilProgress(h, (p) => p.succeeded === 2);
      s.release('slow');
    });
    expect([...stubs.started].sort()).toEqual(['fast', 'next', 'slow']);
    // `next` (level 1) started and ended while `slow` (level 0) was held: with a level barrier it
    // could not start before slow ended, and whenStarted(3) above would time out. (Whether slow's
    // activity had already started when next's did depends on activity polling: not asserted.)
    expect(stubs.ended).toEqual(['fast', 'next', 'slow']);
    const r = byId(result!.outcome.results);
    expect(r.next.level).toBe(1);
    expect(r.next.finishedAt!).toBeLessThanOrEqual(r.slow.finishedAt!);
    expect(r.next.scheduledAt).toBe(r.fast.finishedAt);
  });

  test("a failed node's dependents and theirs are skipped with the failure's reason; tolerateFailedDeps runs with what succeeded", async () => {
    const stubs = new Stubs({ outcomes: { a: { fail: 'BadRequest' } } });
    const { result, failure } = await graph(
      {
        nodes: [
          { id: 'a' },
          { id: 'x' },
          { id: 'b', dependsOn: ['a'] },
          { id: 'c', dependsOn: ['b'] },
          { id: 'd', dependsOn: ['x', 'a'] },
          { id: 'e', dependsOn: ['a', 'x'], tolerateFailedDeps: true },
          { id: 's', dependsOn: ['x'], skip: 'skipped: nothing to summarise' },
          { id: 't', dependsOn: ['s'] },
        ],
      },
      stubs,
    );
    expect(failure).toBeUndefined();
    expect([...stubs.started].sort()).toEqual(['a', 'e', 'x']);
    // The tolerant node saw both dependencies, one failed.
    expect(stubs.inputs.get('e')).toBe('a=failed,x=succeeded');
    const reason = 'skipped: dependency "a" failed (a failed)';
    const r = byId(result!.outcome.results);
    const skippedNode = (id: string, error: string, dependsOn: string[], level: number, scheduledAt: number | null) => ({
      taskId: id,
      name: `node ${id}`,
      state: 'skipped',
      success: false,
      output: null,
      error,
      errorType: 'Skipped',
      durationMs: 0,
      attempts: 0,
      tokens: ZERO,
      dependsOn,
      level,
      scheduledAt,
      startedAt: null,
      finishedAt: null,
    });
    expect(r.b).toEqual(skippedNode('b', reason, ['a'], 1, null));
    expect(r.c).toEqual(skippedNode('c', reason, ['b'], 2, null));
    expect(r.d).toEqual(skippedNode('d', reason, ['x', 'a'], 1, null));
    // A node whose build has nothing to call held a slot (it became ready), and its reason passes on verbatim.
    expect(r.s).toEqual(skippedNode('s', 'skipped: nothing to summarise', ['x'], 1, r.x.finishedAt));
    expect(r.t).toEqual(skippedNode('t', 'skipped: nothing to summarise', ['s'], 2, null));
    expect(r.a).toMatchObject({ state: 'failed', error: 'a failed', errorType: 'BadRequest', attempts: 1 });
    expect(r.e).toMatchObject({ state: 'succeeded', output: 'output of e' });
    const progress = Object.fromEntries(result!.progress.tasks.map((t) => [t.taskId, [t.state, t.error]]));
    expect(progress).toEqual({
      a: ['failed', 'a failed'],
      x: ['succeeded', null],
      b: ['skipped', reason],
      c: ['skipped', reason],
      d: ['skipped', reason],
      e: ['succeeded', null],
      s: ['skipped', 'skipped: nothing to summarise'],
      t: ['skipped', 'skipped: nothing to summarise'],
    });
  });

  test('fail-fast cancels in-flight siblings and fails with NodeFailed carrying every result', async () => {
    const stubs = new Stubs({ hold: 'all' });
    // Ranks: a (a node behind it) first, then b, c by id; e waits for a slot, d for a.
    const { failure } = await graph(
      { maxConcurrent: 3, onFailure: 'fail-fast', nodes: [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd', dependsOn: ['a'] }, { id: 'e' }] },
      stubs,
      async (h, s) => {
        await s.whenStarted(3);
        expect([...s.started].sort()).toEqual(['a', 'b', 'c']);
        const progress = await h.query(progressQuery);
        expect([progress.running, progress.pending]).toEqual([3, 2]);
        s.release('c', { fail: 'BadRequest' });
      },
    );
    expect([...stubs.cancelled].sort()).toEqual(['a', 'b']);
    expect(stubs.started).toHaveLength(3);
    expect(failure?.type).toBe('NodeFailed');
    expect(failure?.message).toBe('Node "c" failed (BadRequest): c failed');
    expect(failure?.nonRetryable).toBe(true);
    const details = failure!.details![0] as { failedNode: string; results: NodeResult[] };
    expect(details.failedNode).toBe('c');
    const r = byId(details.results);
    expect(details.results.map((x) => x.taskId)).toEqual(['a', 'b', 'c', 'd', 'e']);
    for (const id of ['a', 'b'])
      expect(r[id]).toEqual({
        ...cancelledInFlight(id, `node ${id}`),
        dependsOn: [],
        level: 0,
        scheduledAt: r.a.scheduledAt,
        startedAt: r.a.scheduledAt,
        finishedAt: expect.any(Number),
      });
    expect(r.c).toEqual({
      ...resultFields(r.c),
      ...{ state: 'failed', success: false, output: null, error: 'c failed', errorType: 'BadRequest', attempts: 1, tokens: ZERO },
      dependsOn: [],
      level: 0,
      scheduledAt: r.a.scheduledAt,
      startedAt: r.a.scheduledAt,
      finishedAt: expect.any(Number),
    });
    // d never became ready (its dependency was cancelled); e was waiting for a slot.
    expect(r.d).toEqual({ ...cancelledBeforeStart('d', 'node d'), dependsOn: ['a'], level: 1, scheduledAt: null, startedAt: null, finishedAt: null });
    expect(r.e).toEqual({ ...cancelledBeforeStart('e', 'node e'), dependsOn: [], level: 0, scheduledAt: r.a.scheduledAt, startedAt: null, finishedAt: null });
  });

  test('a node not run for budget is skipped with BudgetExceeded once the cap is reached', async () => {
    const stubs = new Stubs();
    const { result } = await graph({ maxConcurrent: 1, budget: { maxTokens: 15 }, nodes: [{ id: 'a' }, { id: 'b', dependsOn: ['a'] }, { id: 'c', dependsOn: ['a'] }] }, stubs);
    expect(stubs.started).toEqual(['a']);
    const r = byId(result!.outcome.results);
    const reason = "not run: the run's budget was reached (15 of 15 tokens)";
    for (const id of ['b', 'c']) {
      expect(r[id]).toEqual({
        taskId: id,
        name: `node ${id}`,
        state: 'skipped',
        success: false,
        output: null,
        error: reason,
        errorType: 'BudgetExceeded',
        durationMs: 0,
        attempts: 0,
        tokens: ZERO,
        dependsOn: ['a'],
        level: 1,
        scheduledAt: r.a.finishedAt,
        startedAt: null,
        finishedAt: null,
      });
    }
    expect(result!.progress.skipped).toBe(2);
  });

  test('the policy routes LLM and tool calls to their task queues', async () => {
    const stubs = new Stubs();
    const { result } = await graph(
      { nodes: [{ id: 'ask' }, { id: 'count', tool: true, dependsOn: ['ask'] }], policy: { llm: { taskQueue: unit.queues.llm }, tool: { taskQueue: unit.queues.tool } } },
      stubs,
    );
    expect(stubs.queues).toEqual({ ask: unit.queues.llm, count: unit.queues.tool });
    expect(stubs.inputs.get('count')).toBe('ask=succeeded');
    expect(result!.outcome.results.map((r) => [r.taskId, r.state, r.output])).toEqual([
      ['ask', 'succeeded', 'output of ask'],
      ['count', 'succeeded', 'stats of count'],
    ]);
  });

  test('cancelling the run keeps finished results; the rest are cancelled, in flight or before they started', async () => {
    const stubs = new Stubs({ hold: 'all' });
    const { result } = await graph({ maxConcurrent: 2, nodes: [{ id: 'a' }, { id: 'b' }, { id: 'c', dependsOn: ['b'] }] }, stubs, async (h, s) => {
      await s.whenStarted(2);
      s.release('a');
      await untilProgress(h, (p) => p.succeeded === 1);
      await h.cancel();
    });
    expect(stubs.cancelled).toEqual(['b']);
    expect(result!.cancelled).toBe(true);
    const r = byId(result!.outcome.results);
    expect(resultFields(r.a)).toEqual(resultFields(succeededLlm('a', 'node a') as TaskResult));
    expect(resultFields(r.b)).toEqual(cancelledInFlight('b', 'node b'));
    expect(r.c).toEqual({ ...cancelledBeforeStart('c', 'node c'), dependsOn: ['b'], level: 1, scheduledAt: null, startedAt: null, finishedAt: null });
  });
});

describe('runBounded', () => {
  test('results in input order, at most maxConcurrent in flight, each free slot to the lowest index waiting', async () => {
    const tasks = ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7'];
    const stubs = new Stubs({ hold: 'all' });
    const next: string[] = [];
    const { result } = await bounded({ tasks, maxConcurrent: 3 }, stubs, async (h, s) => {
      await s.whenStarted(3);
      expect([...s.started].sort()).toEqual(['t0', 't1', 't2']);
      const progress = await h.query(progressQuery);
      expect([progress.running, progress.pending]).toEqual([3, 5]);
      // Release the newest call each time: the slot goes to the lowest index still waiting.
      for (let n = 3; n < tasks.length; n++) {
        s.release(s.inFlight.sort().pop()!);
        await s.whenStarted(n + 1);
        next.push(s.started[n]);
        expect(s.inFlight).toHaveLength(3);
      }
      for (const id of s.inFlight) s.release(id);
    });
    expect(next).toEqual(['t3', 't4', 't5', 't6', 't7']);
    expect(stubs.maxInFlight).toBe(3);
    expect(stubs.ended).not.toEqual(tasks);
    expect(result!.results).toEqual(tasks.map((t) => succeededLlm(t, `task ${t}`)));
    expect(result!.progress.succeeded).toBe(8);
  });

  test('failFast cancels in-flight siblings and fails with TaskFailed carrying every result', async () => {
    const stubs = new Stubs({ hold: 'all' });
    const { failure } = await bounded({ tasks: ['t0', 't1', 't2', 't3'], maxConcurrent: 2, failFast: true }, stubs, async (_h, s) => {
      await s.whenStarted(2);
      s.release('t1', { fail: 'BadRequest' });
    });
    expect(stubs.cancelled).toEqual(['t0']);
    expect([...stubs.started].sort()).toEqual(['t0', 't1']);
    expect(failure?.type).toBe('TaskFailed');
    expect(failure?.message).toBe('Task "task t1" failed (BadRequest): t1 failed');
    const details = failure!.details![0] as { failedTask: string; results: TaskResult[] };
    expect(details.failedTask).toBe('t1');
    expect(details.results).toEqual([
      cancelledInFlight('t0', 'task t0'),
      {
        taskId: 't1',
        name: 'task t1',
        state: 'failed',
        success: false,
        output: null,
        error: 't1 failed',
        errorType: 'BadRequest',
        durationMs: expect.any(Number),
        attempts: 1,
        tokens: ZERO,
      },
      cancelledBeforeStart('t2', 'task t2'),
      cancelledBeforeStart('t3', 'task t3'),
    ]);
  });

  test('budget: tasks not run once the cap is reached, and one gate spans batches', async () => {
    const reason = "not run: the run's budget was reached (30 of 30 tokens)";
    const notRun = (id: string) => ({
      taskId: id,
      name: `task ${id}`,
      state: 'skipped',
      success: false,
      output: null,
      error: reason,
      errorType: 'BudgetExceeded',
      durationMs: 0,
      attempts: 0,
      tokens: ZERO,
    });
    const one = new Stubs();
    const { result } = await bounded({ tasks: ['t0', 't1', 't2', 't3'], maxConcurrent: 1, budget: { maxTokens: 30 } }, one);
    expect(one.started).toEqual(['t0', 't1']);
    expect(result!.results.map(resultFields)).toEqual(
      [succeededLlm('t0', 'task t0'), succeededLlm('t1', 'task t1'), notRun('t2'), notRun('t3')].map((r) => resultFields(r as TaskResult)),
    );
    expect(result!.progress.tasks.map((t) => [t.state, t.error ?? null])).toEqual([
      ['succeeded', null],
      ['succeeded', null],
      ['skipped', reason],
      ['skipped', reason],
    ]);
    // Two batches of two with one shared gate (like pipeline stages): the second batch finds the budget spent.
    const shared = new Stubs();
    const batches = await bounded({ tasks: ['t0', 't1', 't2', 't3'], maxConcurrent: 4, budget: { maxTokens: 30 }, batches: 2 }, shared);
    expect([...shared.started].sort()).toEqual(['t0', 't1']);
    expect(batches.result!.results.map((r) => [r.taskId, r.state, r.errorType])).toEqual([
      ['t0', 'succeeded', null],
      ['t1', 'succeeded', null],
      ['t2', 'skipped', 'BudgetExceeded'],
      ['t3', 'skipped', 'BudgetExceeded'],
    ]);
  });

  test('cancelling the run keeps finished results: in flight → cancelled, waiting → cancelled before it started', async () => {
    const stubs = new Stubs({ hold: 'all' });
    const { result } = await bounded({ tasks: ['t0', 't1', 't2', 't3'], maxConcurrent: 2 }, stubs, async (h, s) => {
      await s.whenStarted(2);
      s.release('t0');
      await s.whenStarted(3);
      await h.cancel();
    });
    expect([...stubs.cancelled].sort()).toEqual(['t1', 't2']);
    expect(result!.cancelled).toBe(true);
    const [t0, t1, t2, t3] = result!.results;
    expect(t0).toEqual(succeededLlm('t0', 'task t0'));
    expect([t1, t2]).toEqual([cancelledInFlight('t1', 'task t1'), cancelledInFlight('t2', 'task t2')]);
    expect(t3).toEqual(cancelledBeforeStart('t3', 'task t3'));
    expect(result!.progress.tasks.map((t) => t.state)).toEqual(['succeeded', 'cancelled', 'cancelled', 'cancelled']);
  });
});
