/** Token-aware admission across workers, adaptive concurrency, budgets and the response cache, on the real dev server. */
import { execFile } from 'node:child_process';
import { splitQueues } from '../../src/client';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { temporal } from '@temporalio/proto';
import { limiterWorkflowId } from '../../src/core/names';
import type { TaskResult } from '../../src/core/tasks';
import type { FanOutResult } from '../../src/workflows/fan-out';
import type { DagResult } from '../../src/workflows/run-dag';
import { sharedHarness, startHarness, type Harness } from '../helpers/harness';
import { limiterWhenIdle } from '../helpers/limiter';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

const ROOT = path.resolve(__dirname, '../..');
const tasks = (n: number, prefix: string, pad = 0) => Array.from({ length: n }, (_, i) => ({ name: `${prefix} ${i}`, prompt: `${prefix} task ${i}. ${'x'.repeat(pad)}` }));

describe('token-per-window admission shared by two workers', () => {
  let h: Harness;
  let second: WorkerProcess;
  const windowMs = 2000;
  const itpm = 300;
  beforeAll(async () => {
    h = await startHarness({ llm: { ttftMs: 50, perTokenMs: 0, outputTokens: 5 }, limits: { '*': { itpm } }, limitWindowMs: windowMs });
    // A second worker, in its own process, on the same task queues with the same limits.
    second = await startWorkerProcess({
      TEMPORAL_ADDRESS: h.address,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      ANTHROPIC_BASE_URL: h.llm.url,
      LLM_ITPM: String(itpm),
      LLM_LIMIT_WINDOW_MS: String(windowMs),
      PAYLOAD_STORE_DIR: h.payloadStoreDir,
    });
  });
  afterAll(async () => {
    second?.kill();
    await h?.close();
  });

  test("three runs at once: input tokens at the LLM server stay within the token bucket (the API's model) over every span", async () => {
    // ~50 input tokens per call (the estimate and the server both count chars / 4).
    const handles = await Promise.all(['alpha', 'beta', 'gamma'].map((p) => h.start('fanOut', { tasks: tasks(5, p, 180), maxConcurrent: 5 })));
    const runs = (await Promise.all(handles.map((x) => x.result()))) as FanOutResult[];
    for (const r of runs) expect(r.stats.succeeded).toBe(5);
    const reqs = h.llm.stats().requests.filter((q) => q.outcome === 'ok');
    expect(reqs).toHaveLength(15);
    if (process.env.DEBUG_LIMITER) console.log(reqs.map((q) => `${q.receivedAt - reqs[0].receivedAt} ${q.inputTokens}`).join('\n'));
    // A bucket of `itpm` refilled at itpm per window: over any span of d ms, at most itpm + itpm × d / window
    // (300 ms allowed for the time between a grant at the limiter, stamped with its workflow task's
    // time, and the request's arrival: 100 ms was exceeded by 0.75 tokens once on a loaded machine).
    for (const a of reqs) {
      for (const b of reqs.filter((o) => o.receivedAt >= a.receivedAt)) {
        const span = reqs.filter((o) => o.receivedAt >= a.receivedAt && o.receivedAt <= b.receivedAt).reduce((n, o) => n + o.inputTokens, 0);
        expect(span).toBeLessThanOrEqual(itpm + (itpm * (b.receivedAt - a.receivedAt + 300)) / windowMs);
      }
    }
    // One limiter for the task queue, shared by both worker processes: it heard of all 15 calls.
    const status = await limiterWhenIdle(h.client, h.taskQueue);
    expect(status.reported).toBe(15);
    // Both worker processes made calls, each through its lease at that one limiter: the runs'
    // calls were started by exactly two workers, this process's ran as many as its admission let
    // through, and both hold a lease.
    const ranBy = new Map<string, number>();
    for (const x of handles) {
      for (const e of (await x.fetchHistory()).events ?? []) {
        const by = e.activityTaskStartedEventAttributes?.identity;
        if (by) ranBy.set(by, (ranBy.get(by) ?? 0) + 1);
      }
    }
    const here = `${process.pid}@${os.hostname()}`;
    expect(ranBy.size).toBe(2);
    expect(ranBy.get(here)).toBe(h.admissions.reduce((n, a) => n + a.stats.admitted, 0));
    expect([...ranBy.values()].reduce((a, b) => a + b, 0)).toBe(15);
    expect(status.holders).toBe(2);
    console.log(
      `token bucket shared by two workers: ${h.admissions[0].stats.admitted} of 15 calls admitted in process, the rest by the worker process; ${status.renewals} lease renewals`,
    );
    const limiter = await h.client.workflow.getHandle(limiterWorkflowId(h.taskQueue)).describe();
    expect(limiter.type).toBe('llmLimiter');
    expect(limiter.status.name).toBe('RUNNING');
  });
});

describe('adaptive concurrency', () => {
  test('against a provider that answers 429 above 3 concurrent calls, adaptive mode gets far fewer 429s than a static 12', async () => {
    const overload = [{ fault: { kind: 'overload' as const, maxConcurrent: 3, retryAfterMs: 200 } }];
    const staticH = await startHarness({ llm: { ttftMs: 300, perTokenMs: 0, outputTokens: 5 }, flow: false });
    const adaptiveH = await startHarness({ llm: { ttftMs: 300, perTokenMs: 0, outputTokens: 5 }, limits: { '*': { adaptiveMax: 12 } } });
    try {
      staticH.llm.setFaults(overload);
      adaptiveH.llm.setFaults(overload);
      const input = { tasks: tasks(24, 'load'), maxConcurrent: 12, maxAttempts: 20 };
      const s = await staticH.run<FanOutResult>('fanOut', input);
      const a = await adaptiveH.run<FanOutResult>('fanOut', input);
      const throttled = (x: Harness) => x.llm.stats().requests.filter((q) => q.status === 429).length;
      expect(a.stats.succeeded).toBe(24);
      expect(throttled(adaptiveH)).toBeLessThan(throttled(staticH) / 2);
      console.log(`429s: static 12 → ${throttled(staticH)}, adaptive → ${throttled(adaptiveH)}; wall: static ${s.stats.wallClockMs} ms, adaptive ${a.stats.wallClockMs} ms`);
    } finally {
      await staticH.close();
      await adaptiveH.close();
    }
  });
});

describe('flow control on by default (no LLM_* limits configured)', () => {
  test('a provider that answers 429 (retry-after 1) above 4 in flight, 40 tasks at maxConcurrent 40: every task succeeds, few 429s, no attempt spent on throttling', async () => {
    const h = await startHarness({ llm: { ttftMs: 300, perTokenMs: 0, outputTokens: 5 } });
    try {
      h.llm.setFaults([{ fault: { kind: 'overload', maxConcurrent: 4, retryAfterS: 1 } }]);
      const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(40, 'default'), maxConcurrent: 40, maxAttempts: 2 });
      const throttled = h.llm.stats().requests.filter((q) => q.status === 429).length;
      expect(r.stats.succeeded).toBe(40);
      expect(r.results.every((x) => x.attempts === 1)).toBe(true);
      // The first burst (the initial window of 16) draws 12; the limit then settles at or below 4.
      expect(throttled).toBeLessThanOrEqual(3 * 4 + 4);
      console.log(`default flow control vs 429 above 4: ${throttled} × 429, wall ${r.stats.wallClockMs} ms (ideal at 4 in flight: ${Math.ceil(40 / 4) * 300} ms)`);
    } finally {
      await h.close();
    }
  });

  test('an input-token bucket far smaller than the run: paced from the advertised headers, every task succeeds, a handful of 429s', async () => {
    // 600 input tokens per 2 s window (300/s refill); 30 calls of ~55 tokens = ~1,650: ~3.5 s beyond the first bucket.
    const h = await startHarness({ llm: { ttftMs: 100, perTokenMs: 0, outputTokens: 5, rateLimits: { itpm: 600, windowMs: 2000 } }, limitWindowMs: 2000 });
    try {
      const padded = tasks(30, 'bucket').map((t) => ({ ...t, prompt: `${t.prompt} ${'context '.repeat(25)}` }));
      const r = await h.run<FanOutResult>('fanOut', { tasks: padded, maxConcurrent: 30, maxAttempts: 2 });
      const reqs = h.llm.stats().requests;
      const throttled = reqs.filter((q) => q.status === 429).length;
      const okInput = reqs.filter((q) => q.status === 200).reduce((n, q) => n + q.inputTokens, 0);
      expect(r.stats.succeeded).toBe(30);
      expect(r.results.every((x) => x.attempts === 1)).toBe(true);
      expect(throttled).toBeLessThanOrEqual(16);
      const ideal = ((okInput - 600) / 300) * 1000;
      console.log(
        `default flow control vs a 600-token bucket: ${throttled} × 429, wall ${r.stats.wallClockMs} ms, bucket ideal ${Math.round(ideal)} ms (${(r.stats.wallClockMs / ideal).toFixed(2)}×)`,
      );
    } finally {
      await h.close();
    }
  });
});

describe('flow control in a fleet', () => {
  test('each worker process learns from the server how many processes poll the LLM queue, and a bucket-limited run across two of them succeeds', async () => {
    const h = await startHarness({ llm: { ttftMs: 100, perTokenMs: 0, outputTokens: 5, rateLimits: { itpm: 600, windowMs: 2000 } }, limitWindowMs: 2000 });
    const other = await startWorkerProcess({
      TEMPORAL_ADDRESS: h.address,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      ANTHROPIC_BASE_URL: h.llm.url,
      LLM_LIMIT_WINDOW_MS: '2000',
      PAYLOAD_STORE_DIR: h.payloadStoreDir,
      WORKER_ROLES: 'llm',
      LOG_LEVEL: 'WARN',
    });
    try {
      for (let i = 0; i < 100 && (await h.fleet.refresh()) < 2; i++) await new Promise((r) => setTimeout(r, 100));
      expect(h.fleet.size).toBe(2);
      const padded = tasks(40, 'fleet').map((t) => ({ ...t, prompt: `${t.prompt} ${'context '.repeat(25)}` }));
      const r = await h.run<FanOutResult>('fanOut', { tasks: padded, maxConcurrent: 40, maxAttempts: 2 });
      expect(r.stats.succeeded).toBe(40);
      expect(r.results.every((x) => x.attempts === 1)).toBe(true);
      const throttled = h.llm.stats().requests.filter((q) => q.status === 429).length;
      // Measured 30–34 × 429 (mostly the two cold-start windows) and ~5.9 s; 36–42 and 6.2–6.6 s when each process paced to the whole bucket.
      console.log(`two worker processes, each pacing to half of a 600-token/2 s bucket: ${throttled} × 429, wall ${r.stats.wallClockMs} ms`);
    } finally {
      other.kill();
      await h.close();
    }
  });
});

describe('task-queue rate limit on the server', () => {
  test("LLM_RPM becomes the LLM task queue's rate limit in the server's task-queue config (not a per-worker option)", async () => {
    const h = await startHarness({ llm: { ttftMs: 20, perTokenMs: 0, outputTokens: 5 }, llmRpm: 600 });
    try {
      const r = await h.client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: `${h.taskQueue}-llm` },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        reportConfig: true,
      });
      expect(r.config?.queueRateLimit?.rateLimit?.requestsPerSecond).toBeCloseTo(10);
      expect(r.config?.queueRateLimit?.metadata?.reason).toContain('LLM_RPM: 600 requests per minute');
      expect((await h.run<FanOutResult>('fanOut', { tasks: tasks(5, 'rps') })).stats.succeeded).toBe(5);
    } finally {
      await h.close();
    }
  });
});

describe('a limiter that does not answer', () => {
  test('calls fail open after a bounded wait, paced by local flow control (the configured ceiling holds), and rejoin the limiter once it answers', async () => {
    // No worker serves the limiter's task queue: its updates are never answered.
    const h = await startHarness({ llm: { ttftMs: 200, perTokenMs: 0, outputTokens: 5 }, limits: { '*': { adaptiveMax: 3 } }, limiterWorker: false, failOpenAfterMs: 2000 });
    try {
      const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(9, 'open') });
      expect(r.stats.succeeded).toBe(9);
      const [adm] = h.admissions;
      expect(adm.failedOpen).toBe(true);
      expect(adm.admittedWithoutLimiter).toBe(9);
      // The worker's own flow control kept the configured ceiling meanwhile.
      expect(h.llm.stats().maxInFlight).toBeLessThanOrEqual(3);
      // A limiter worker comes up: the next probe rejoins it, and calls ask it again.
      await h.startWorkers({ limiterOnly: true });
      for (let i = 0; i < 200 && adm.failedOpen; i++) await new Promise((res) => setTimeout(res, 100));
      expect(adm.failedOpen).toBe(false);
      expect((await h.run<FanOutResult>('fanOut', { tasks: tasks(3, 'rejoined') })).stats.succeeded).toBe(3);
      expect(adm.admittedWithoutLimiter).toBe(9);
      expect((await limiterWhenIdle(h.client, h.taskQueue)).reported).toBeGreaterThanOrEqual(3);
    } finally {
      await h.close();
    }
  });
});

describe('a live limiter and malformed signals', () => {
  test('garbage sent with the temporal CLI is dropped with a warning; the limiter keeps granting', async () => {
    const h = await startHarness({ llm: { ttftMs: 50, perTokenMs: 0, outputTokens: 5 }, limits: { '*': { adaptiveMax: 2 } } });
    try {
      expect((await h.run<FanOutResult>('fanOut', { tasks: tasks(4, 'before') })).stats.succeeded).toBe(4);
      const temporal = path.join(ROOT, '.tools/venv/bin/temporal');
      const id = limiterWorkflowId(h.taskQueue);
      for (const [name, input] of [
        ['settlePermit', 'null'],
        ['settlePermit', '{"permitId": 5, "outcome": "success"}'],
        ['settlePermit', '"p1"'],
        ['heldPermits', '{"holder": "x", "held": "not a list"}'],
        ['heldPermits', '[1, 2, 3]'],
      ]) {
        await promisify(execFile)(temporal, ['workflow', 'signal', '--address', h.address, '--workflow-id', id, '--name', name, '--input', input]);
      }
      // Malformed lease renewals are rejected in the update's validator, naming the problems.
      for (const input of [
        'null',
        '{"holder": 7, "model": ""}',
        '{"id": "x", "holder": "h", "model": "m", "limits": {}, "windowMs": 1000, "leaseMs": 5000, "inFlight": -1, "want": {}, "returned": {}, "usage": {}}',
      ]) {
        const r = await promisify(execFile)(temporal, [
          'workflow',
          'update',
          'execute',
          '--address',
          h.address,
          '--workflow-id',
          id,
          '--name',
          'renewLease',
          '--input',
          input,
        ]).then(
          () => 'accepted',
          (err: { stderr?: string }) => err.stderr ?? '',
        );
        expect(r).toContain('invalid lease renewal');
      }
      // Every later call is still admitted, and the limiter's workflow tasks never failed.
      expect((await h.run<FanOutResult>('fanOut', { tasks: tasks(6, 'after') })).stats.succeeded).toBe(6);
      expect(await limiterWhenIdle(h.client, h.taskQueue)).toMatchObject({ inFlight: 0 });
      const history = await h.client.workflow.getHandle(id).fetchHistory();
      const failedTasks = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes);
      expect(failedTasks).toHaveLength(0);
    } finally {
      await h.close();
    }
  });
});

describe('limiter continue-as-new under load', () => {
  test('the limiter continues as new many times during a run; every call is admitted once, the limit holds throughout', async () => {
    // Renewals are few (here: a 3 s lease, renewed every second), so the limiter continues as new
    // after very few events (8: every task with a renewal continues as new).
    const h = await startHarness({ llm: { ttftMs: 300, perTokenMs: 0, outputTokens: 5 }, limits: { '*': { adaptiveMax: 4 } }, limiterMaxHistory: 8, limiterLeaseMs: 3000 });
    try {
      const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(80, 'chain') });
      expect(r.stats.succeeded).toBe(80);
      expect(h.llm.stats().calls).toBe(80);
      expect(h.llm.stats().maxInFlight).toBeLessThanOrEqual(4);
      const id = limiterWorkflowId(h.taskQueue);
      // Visibility lags a little behind the runs themselves: list until it shows the current run.
      const current = (await h.client.workflow.getHandle(id).describe()).runId;
      let runs: { runId: string; status: string }[] = [];
      for (let i = 0; i < 50; i++) {
        runs = [];
        for await (const w of h.client.workflow.list({ query: `WorkflowId = '${id}'` })) runs.push({ runId: w.runId, status: w.status.name });
        if (runs.some((x) => x.runId === current && x.status === 'RUNNING')) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      // Many runs chained by continue-as-new, one of them running.
      expect(runs.length).toBeGreaterThanOrEqual(3);
      expect(runs.filter((x) => x.status === 'RUNNING')).toHaveLength(1);
      expect(runs.filter((x) => x.status !== 'RUNNING').every((x) => x.status === 'CONTINUED_AS_NEW')).toBe(true);
      // The state went along: the 80 calls reported across the chain (in aggregate, at renewals:
      // far fewer renewals than calls), and none stays in flight.
      const status = await limiterWhenIdle(h.client, h.taskQueue);
      expect(status).toMatchObject({ reported: 80, inFlight: 0 });
      expect(status.holders).toBe(1);
      expect(status.renewals).toBeLessThan(80);
      const arr = h.llm.stats().requests.map((q) => q.receivedAt);
      const gaps = arr
        .slice(1)
        .map((t, i) => t - arr[i])
        .filter((g) => g > 300);
      console.log(
        `limiter continue-as-new: ${runs.length} runs for 80 calls; wall ${r.stats.wallClockMs} ms; ${status.renewals} lease renewals; pauses > 300 ms between requests: ${gaps.join(', ') || 'none'}`,
      );
    } finally {
      await h.close();
    }
  });
});

describe('admission and cancellation', () => {
  test('cancelling a run whose calls wait for permits leaves no permit behind', async () => {
    const h = await startHarness({ llm: { ttftMs: 800, perTokenMs: 0, outputTokens: 5 }, limits: { '*': { adaptiveMax: 2 } } });
    try {
      const handle = await h.start('fanOut', { tasks: tasks(6, 'cancel-wait') });
      // Two calls in flight, four waiting in the worker's queue for a permit.
      for (let i = 0; i < 100 && h.llm.stats().inFlight < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(h.llm.stats().inFlight).toBe(2);
      await handle.cancel();
      const r = (await handle.result()) as FanOutResult;
      expect(r.results.filter((x) => x.state === 'cancelled')).toHaveLength(6);
      // The waiting calls never reached the LLM server, and every permit came back.
      expect(h.llm.stats().calls).toBe(2);
      expect(await limiterWhenIdle(h.client, h.taskQueue)).toMatchObject({ inFlight: 0 });
      // And the next run gets its permits at once.
      const next = await h.run<FanOutResult>('fanOut', { tasks: tasks(2, 'after-cancel') });
      expect(next.stats.succeeded).toBe(2);
      await limiterWhenIdle(h.client, h.taskQueue);
      // `client limits` shows the same state to a user.
      const cli = (args: string[], taskQueue = h.taskQueue) =>
        promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'src/cli/main.ts'), ...args], {
          cwd: ROOT,
          env: { ...process.env, TEMPORAL_ADDRESS: h.address, TEMPORAL_TASK_QUEUE: taskQueue },
        });
      const shown = JSON.parse((await cli(['limits', '--json'])).stdout) as { running: boolean; inFlight: number; reported: number; models: Record<string, { limit: number }> };
      expect(shown).toMatchObject({ running: true, inFlight: 0, models: { 'claude-sonnet-4-6': { limit: 2 } } });
      expect(shown.reported).toBeGreaterThanOrEqual(4);
      expect((await cli(['limits'])).stdout).toContain('claude-sonnet-4-6: concurrency limit 2');
      const other = await cli(['limits'], `${h.taskQueue}-unused`);
      expect(other.stdout).toContain('no limiter on task queue');
    } finally {
      await h.close();
    }
  });
});

describe('budgets and cache', () => {
  const h = sharedHarness({ llm: { ttftMs: 100, perTokenMs: 0, outputTokens: 20 } });

  test('a token budget stops new calls and names the tasks not run', async () => {
    // Each call uses ~6 input + 20 output tokens; the cap is reached after 3 calls.
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(10, 'budget'), maxConcurrent: 1, budget: { maxTokens: 70 } });
    expect(r.stats.succeeded).toBe(3);
    const notRun = r.results.filter((x) => x.errorType === 'BudgetExceeded');
    expect(notRun).toHaveLength(7);
    expect(notRun[0]).toMatchObject({ state: 'skipped', name: 'budget 3' });
    expect(notRun[0].error).toMatch(/not run: the run's budget was reached \(\d+ of 70 tokens\)/);
    expect(h.llm.stats().calls).toBe(3);
  });

  test('one budget per run: a two-stage pipeline spends one cap across its stages', async () => {
    // ~26 tokens a call, one at a time, cap 100: 4 calls in all (before: 4 in each stage).
    const stage = (name: string) => ({ name, tasks: Array.from({ length: 4 }, (_, i) => ({ id: `${name}${i}`, prompt: `stage ${name} task ${i}` })) });
    const r = await h.run<{ results: TaskResult[] }>('pipeline', { stages: [stage('a'), stage('b')], maxConcurrent: 1, budget: { maxTokens: 100 } });
    const seen = h.llm.stats().tokens;
    const perCall = seen.input / h.llm.stats().calls + 20;
    expect(seen.input + seen.output).toBeLessThanOrEqual(100 + perCall);
    expect(r.results.filter((x) => x.errorType === 'BudgetExceeded').length).toBeGreaterThanOrEqual(3);
  });

  test('one budget per run: a sharded fan-out shares its cap between its shards', async () => {
    // 4 shards of 3 tasks, one call in flight each; cap 100 (before: 100 for every shard).
    const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(12, 'shared'), shardSize: 3, maxConcurrent: 4, budget: { maxTokens: 100 } });
    expect(r.shards).toHaveLength(4);
    const seen = h.llm.stats().tokens;
    const perCall = seen.input / h.llm.stats().calls + 20;
    // Within the cap plus what was in flight when it was reached (at most one call per shard).
    expect(seen.input + seen.output).toBeLessThanOrEqual(100 + 4 * perCall);
    expect(r.results.filter((x) => x.errorType === 'BudgetExceeded').length).toBeGreaterThanOrEqual(4);
    expect(r.stats.tokens.input + r.stats.tokens.output).toBe(seen.input + seen.output);
  });

  test('with inFlight: cancel, calls still running when the cap is reached are cancelled', async () => {
    h.llm.setFaults([{ match: 'slow', fault: { kind: 'latency', ttftMs: 15_000 } }]);
    const r = await h.run<FanOutResult>('fanOut', {
      tasks: [
        { name: 'slow', prompt: 'slow call' },
        { name: 'fast', prompt: 'fast call' },
        { name: 'later', prompt: 'later call' },
      ],
      maxConcurrent: 2,
      budget: { maxTokens: 10, inFlight: 'cancel' },
    });
    expect(r.results.map((x) => [x.name, x.state, x.errorType])).toEqual([
      ['slow', 'cancelled', 'BudgetExceeded'],
      ['fast', 'succeeded', null],
      ['later', 'skipped', 'BudgetExceeded'],
    ]);
    expect(h.llm.stats().requests.find((q) => q.prompt === 'slow call')!.aborted).toBe(true);
  });

  test('a DAG under a cost cap skips the nodes it cannot afford', async () => {
    const r = await h.run<DagResult>('runDag', {
      maxConcurrent: 1,
      budget: { maxCostUsd: 0.0005 },
      nodes: [
        { id: 'a', prompt: 'node a' },
        { id: 'b', prompt: 'node b {{a}}', dependsOn: ['a'] },
        { id: 'c', prompt: 'node c {{b}}', dependsOn: ['b'] },
      ],
    });
    // claude-sonnet-4-6 at $3/$15 per Mtok: ~20 output tokens ≈ $0.0003 per call.
    expect(r.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'skipped']);
    expect(r.results[2].errorType).toBe('BudgetExceeded');
  });

  test('cache: a second identical run pays nothing; identical calls in flight share one request', async () => {
    const input = { tasks: tasks(4, 'cached'), cache: { ttlSeconds: 3600 } };
    const first = await h.run<FanOutResult>('fanOut', input);
    expect(first.stats.cacheHits).toBe(0);
    expect(h.llm.stats().calls).toBe(4);
    const second = await h.run<FanOutResult>('fanOut', input);
    expect(h.llm.stats().calls).toBe(4);
    expect(second.stats.cacheHits).toBe(4);
    expect(second.stats.tokens).toEqual({ input: 0, output: 0 });
    expect(second.stats.tokensSaved).toEqual(first.stats.tokens);
    expect(second.results.map((x) => x.output)).toEqual(first.results.map((x) => x.output));
    // Without opting in, nothing is reused.
    await h.run<FanOutResult>('fanOut', { tasks: tasks(4, 'cached') });
    expect(h.llm.stats().calls).toBe(8);

    h.llm.reset();
    const same = Array.from({ length: 5 }, (_, i) => ({ name: `copy ${i}`, prompt: 'the very same prompt' }));
    const shared = await h.run<FanOutResult>('fanOut', { tasks: same, cache: { ttlSeconds: 60 } });
    expect(shared.stats.succeeded).toBe(5);
    expect(h.llm.stats().calls).toBe(1);
    expect(shared.stats.cacheHits).toBe(4);
  });
});

describe('cache shared by worker processes', () => {
  test('identical calls in flight on two worker processes make one request', async () => {
    const h = await startHarness({ llm: { ttftMs: 1500, perTokenMs: 0, outputTokens: 5 } });
    // Another worker process on its own task queue, sharing only the cache directory with the
    // harness's worker: the two can only share the request through the store's claim.
    const otherQueue = `${h.taskQueue}-other`;
    // An entry far older than CACHE_MAX_AGE_SECONDS: the worker process deletes it when it starts.
    const stale = path.join(h.cacheDir, 'stale.json');
    fs.mkdirSync(h.cacheDir, { recursive: true });
    fs.writeFileSync(stale, '{}');
    fs.utimesSync(stale, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    const other = await startWorkerProcess({
      CACHE_MAX_AGE_SECONDS: '3600',
      TEMPORAL_ADDRESS: h.address,
      TEMPORAL_TASK_QUEUE: otherQueue,
      ANTHROPIC_BASE_URL: h.llm.url,
      CACHE_DIR: h.cacheDir,
      PAYLOAD_STORE_DIR: h.payloadStoreDir,
    });
    try {
      const input = { tasks: [{ name: 'same', prompt: 'one prompt, two workers' }], cache: { ttlSeconds: 600 } };
      const thereId = `fanOut-other-${Date.now()}`;
      const [here, there] = await Promise.all([
        h.run<FanOutResult>('fanOut', input),
        h.client.workflow.execute('fanOut', { taskQueue: otherQueue, workflowId: thereId, args: [{ ...splitQueues(otherQueue), ...input }] }) as Promise<FanOutResult>,
      ]);
      expect(h.llm.stats().calls).toBe(1);
      expect([here, there].map((r) => r.stats.succeeded)).toEqual([1, 1]);
      // One of them paid; the other waited for its answer.
      expect([here, there].map((r) => r.stats.cacheHits).sort()).toEqual([0, 1]);
      // `there` ran its call on the worker process (another pid than this test's workers).
      const history = await h.client.workflow.getHandle(thereId).fetchHistory();
      const identities = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.identity).filter((x): x is string => Boolean(x));
      expect(identities).toHaveLength(1);
      expect(identities[0].startsWith(`${process.pid}@`)).toBe(false);
      expect(there.results[0].output).toBe(here.results[0].output);
      expect(fs.existsSync(stale)).toBe(false);
      expect(other.output()).toContain('pruned 1 cache entries older than 3600 s');
    } finally {
      other.kill();
      await h.close();
    }
  });
});

describe('hedging', () => {
  test('a call slower than the recent p95 is raced by a second request; the slow one is aborted', async () => {
    const h = await startHarness({ llm: { ttftMs: 40, perTokenMs: 0, outputTokens: 5 }, hedging: true });
    try {
      // Warm the latency tracker with 25 ordinary calls.
      await h.run<FanOutResult>('fanOut', { tasks: tasks(25, 'warm'), maxConcurrent: 5 });
      // The first request for this prompt hangs on a "slow replica"; a retry of the same request is fast.
      h.llm.setFaults([{ match: 'straggler', times: 1, fault: { kind: 'latency', ttftMs: 20_000 } }]);
      const r = await h.run<FanOutResult>('fanOut', { tasks: [{ name: 'straggler', prompt: 'straggler call' }] });
      expect(r.results[0]).toMatchObject({ success: true, attempts: 1 });
      const reqs = h.llm.stats().requests.filter((q) => q.prompt === 'straggler call');
      expect(reqs).toHaveLength(2);
      expect(reqs[0].aborted).toBe(true);
      expect(reqs[1].outcome).toBe('ok');
    } finally {
      await h.close();
    }
  });

  test('under admission with a full queue, the hedge delay counts from the request, not from the wait for a permit', async () => {
    // Two calls at once fit; 24 queue up for seconds behind them. Every request takes ~200 ms.
    const h = await startHarness({ llm: { ttftMs: 200, perTokenMs: 0, outputTokens: 5 }, hedging: true, limits: { '*': { adaptiveMax: 2 } }, limitWindowMs: 2000 });
    try {
      await h.run<FanOutResult>('fanOut', { tasks: tasks(25, 'warm'), maxConcurrent: 2 });
      h.llm.reset();
      h.hedging!.hedges.clear();
      const r = await h.run<FanOutResult>('fanOut', { tasks: tasks(24, 'queued'), maxConcurrent: 24 });
      expect(r.stats.succeeded).toBe(24);
      // Waiting seconds for a permit is not slowness of the request: few calls are hedged (before
      // the change: 24 of 24; measured after it: 0–5, as a loaded machine makes a few requests
      // slower than the warm-up's p95).
      expect(h.hedging!.hedges.get('claude-sonnet-4-6') ?? 0).toBeLessThan(12);
      expect(await limiterWhenIdle(h.client, h.taskQueue)).toMatchObject({ inFlight: 0 });
    } finally {
      await h.close();
    }
  });
});
