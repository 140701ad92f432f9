/**
 * Durability end to end: the real dev server, real worker processes (`tsx src/worker/main.ts`, the
 * production entry point) and the local LLM server in this process, which records every request.
 *
 * 1. A worker SIGKILLed mid-run: a new worker finishes both runs, finished calls are not paid for
 *    twice, and the interrupted calls are retried once the heartbeat timeout (10 s) expires.
 * 2. A dev server (SQLite file) stopped and restarted mid-run: the run completes and the worker,
 *    never restarted, reconnects by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { splitQueues } from '../../src/client';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { ROOT, freePort, spawnDevServer, waitForTemporal } from '../../scripts/dev-server';
import type { Progress } from '../../src/core/progress';
import { startLocalLlmServer, type RequestRecord } from '../../src/testing';
import { progressQuery } from '../../src/protocol';
import { limiterWhenIdle } from '../helpers/limiter';
import type { FanOutResult } from '../../src/workflows/fan-out';
import { LLM_HEARTBEAT_TIMEOUT_MS } from '../../src/workflows/lib/llm-task';
import type { DagResult } from '../../src/workflows/run-dag';

jest.setTimeout(120_000);

/** Output of every child process of a test, printed only when the test fails. */
class Logs {
  private readonly lines: string[] = [];
  private readonly t0 = Date.now();
  add(source: string, text: string): void {
    for (const line of text.split('\n')) if (line.trim()) this.lines.push(`+${((Date.now() - this.t0) / 1000).toFixed(2)}s [${source}] ${line}`);
  }
  dump(): string {
    return this.lines.join('\n');
  }
}

/** Runs a test body; on failure prints the children's output, then rethrows. */
async function withLogs(logs: Logs, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    console.error(`child process output:\n${logs.dump() || '(none)'}`);
    throw err;
  }
}

/** A `tsx src/worker/main.ts` process in its own process group (tsx runs the worker in a child node process). */
interface WorkerProcess {
  label: string;
  proc: ChildProcess;
  /** Also the process group id (detached). */
  pid: number;
  exited: Promise<void>;
}

/** A dev server on its own SQLite file that a test can stop and start again on the same file. */
async function restartableServer(
  prefix: string,
): Promise<{ address: string; restart(downMs: number): Promise<{ stopAt: number; downAt: number; restartAt: number; upAt: number }> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dbFile = path.join(dir, 'temporal.db');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  let server = spawnDevServer({ port, dbFile });
  // Whatever server is current when the test ends gets stopped.
  cleanups.push(() => stopDevServer(server));
  await waitForTemporal(address);
  return {
    address,
    async restart(downMs) {
      const stopAt = Date.now();
      await stopDevServer(server);
      const downAt = Date.now();
      await sleep(downMs);
      // The new server accepts connections a little before waitForTemporal notices: "down" ends at its spawn.
      const restartAt = Date.now();
      server = spawnDevServer({ port, dbFile });
      await waitForTemporal(address);
      return { stopAt, downAt, restartAt, upAt: Date.now() };
    },
  };
}

/** Every worker a test started, so cleanup can kill what is left even when an assertion failed. */
const spawnedWorkers: WorkerProcess[] = [];

function startWorkerProcess(label: string, env: { address: string; taskQueue: string; llmUrl: string; extra?: Record<string, string> }, logs: Logs): WorkerProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  // Whatever the environment says about servers or keys, this worker talks only to the test's servers.
  for (const k of Object.keys(childEnv)) if (/^(TEMPORAL_|ANTHROPIC_|LLM_|WORKER_|TOOLS_)/.test(k)) delete childEnv[k];
  Object.assign(childEnv, {
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_TASK_QUEUE: env.taskQueue,
    ANTHROPIC_BASE_URL: env.llmUrl,
    ANTHROPIC_API_KEY: 'test-key',
    WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE,
    LLM_MAX_CONCURRENT: '50',
    RUNS_DIR: path.join(os.tmpdir(), 'durability-runs'),
    ...env.extra,
  });
  const proc = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/worker/main.ts'], {
    cwd: ROOT,
    env: childEnv,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`${label}: spawn failed`);
  proc.stdout!.on('data', (d: Buffer) => logs.add(`${label} out`, d.toString()));
  proc.stderr!.on('data', (d: Buffer) => logs.add(`${label} err`, d.toString()));
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      logs.add(label, `exited (code ${code}, signal ${signal})`);
      resolve();
    }),
  );
  const w = { label, proc, pid: proc.pid, exited };
  spawnedWorkers.push(w);
  return w;
}

/** Resolves once the worker prints its `worker: task queue` line; rejects if it exits first. */
async function waitForWorkerReady(w: WorkerProcess, timeoutMs = 60_000): Promise<void> {
  let out = '';
  const onData = (d: Buffer) => (out += d.toString());
  w.proc.stdout!.on('data', onData);
  try {
    await waitFor(
      `${w.label} to start`,
      () => {
        if (w.proc.exitCode !== null || w.proc.signalCode !== null) throw new Error(`${w.label} exited before it was ready`);
        return /^worker: task queue/m.test(out);
      },
      timeoutMs,
    );
  } finally {
    w.proc.stdout!.off('data', onData);
  }
}

/** Live (not zombie) processes of a process group, read from /proc; undefined where there is no /proc. */
function liveGroupMembers(pgid: number): number[] | undefined {
  if (!fs.existsSync('/proc/self/stat')) return undefined;
  const members: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') members.push(Number(name));
  }
  return members;
}

function groupAlive(pgid: number): boolean {
  const members = liveGroupMembers(pgid);
  if (members) return members.length > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the worker's whole process group (tsx and its node child) and waits until none of it is alive. */
async function killWorker(w: WorkerProcess): Promise<void> {
  try {
    process.kill(-w.pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  await w.exited;
  await waitFor(`every process of ${w.label} to die`, () => !groupAlive(w.pid), 10_000);
}

/** Stops a dev server the way an operator would (SIGTERM), SIGKILL if it does not exit in time. */
async function stopDevServer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const inTime = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!inTime) {
    proc.kill('SIGKILL');
    await exited;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `pred` every 100 ms; fails with `what` after timeoutMs. */
async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** A client on its own connection (closed by the caller). */
async function connectClient(address: string): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address });
  return { client: new Client({ connection, namespace: 'default' }), connection };
}

/** A query that returns undefined instead of failing (e.g. while a workflow task is being retried). */
async function progressOf(handle: WorkflowHandle): Promise<Progress | undefined> {
  try {
    return await handle.query(progressQuery);
  } catch {
    return undefined;
  }
}

const cleanups: (() => Promise<unknown> | void)[] = [];

afterAll(async () => {
  for (const w of spawnedWorkers) {
    if (groupAlive(w.pid)) await killWorker(w).catch(() => undefined);
  }
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

describe('durability with real worker processes', () => {
  test('a worker SIGKILLed mid-run: a new worker completes both runs, finished calls are not repeated, interrupted calls are retried within the heartbeat timeout', async () => {
    const logs = new Logs();
    await withLogs(logs, async () => {
      const address = process.env.TEST_TEMPORAL_ADDRESS!;
      const run = randomUUID().slice(0, 8);
      // A marker per task, unique in the whole run (zero-padded so "01" is never a prefix of "010"),
      // so countMatching(marker) counts exactly that task's requests. DAG prompts do not quote their
      // dependencies' outputs on purpose: a quoted output would repeat the dependency's marker.
      const marker = (id: string) => `[durability ${run} ${id}]`;

      const fanTasks = Array.from({ length: 12 }, (_, i) => {
        const id = `fan-${String(i + 1).padStart(2, '0')}`;
        return { id, name: `Company ${i + 1}`, prompt: `${marker(id)} Research company ${i + 1}` };
      });
      const dagNodes = [
        { id: 'a', prompt: `${marker('dag-a')} first step` },
        { id: 'b', prompt: `${marker('dag-b')} second step` },
        { id: 'c', prompt: `${marker('dag-c')} after a`, dependsOn: ['a'] },
        { id: 'd', prompt: `${marker('dag-d')} after b`, dependsOn: ['b'] },
        { id: 'e', prompt: `${marker('dag-e')} independent` },
        { id: 'f', prompt: `${marker('dag-f')} independent` },
        { id: 'g', prompt: `${marker('dag-g')} independent` },
      ];
      // Fast: done (and recorded in history) before the kill. Slow: in flight when the worker dies.
      // d cannot start before the kill (b is slow), so the new worker runs it for the first time.
      const slowFan = fanTasks.filter((_, i) => i % 2 === 1).map((t) => t.id);
      const fastFan = fanTasks.filter((_, i) => i % 2 === 0).map((t) => t.id);
      const slowDag = ['dag-b', 'dag-c', 'dag-f'];
      const fastDag = ['dag-a', 'dag-e', 'dag-g'];
      const slow = [...slowFan, ...slowDag].map(marker);
      const fast = [...fastFan, ...fastDag].map(marker);

      // Fast calls take 300 ms. A slow call's first attempt would take 30 s, so it is certainly still
      // in flight when the worker dies (on any machine); its retry takes a realistic 3 s.
      const llm = await startLocalLlmServer({
        ttftMs: 300,
        perTokenMs: 0,
        outputTokens: 20,
        faults: slow.flatMap((m) => [
          { match: m, times: 1, fault: { kind: 'latency' as const, ttftMs: 30_000 } },
          { match: m, fault: { kind: 'latency' as const, ttftMs: 3_000 } },
        ]),
      });
      cleanups.push(() => llm.close());
      const { client, connection } = await connectClient(address);
      cleanups.push(() => connection.close());
      const taskQueue = `durability-kill-${run}`;
      const env = { address, taskQueue, llmUrl: llm.url };

      const w1 = startWorkerProcess('worker-1', env, logs);
      await waitForWorkerReady(w1);
      const fanHandle = await client.workflow.start('fanOut', {
        taskQueue,
        workflowId: `durability-fanout-${run}`,
        args: [{ ...splitQueues(taskQueue), tasks: fanTasks.map((t) => ({ name: t.name, prompt: t.prompt })) }],
      });
      const dagHandle = await client.workflow.start('runDag', {
        taskQueue,
        workflowId: `durability-dag-${run}`,
        args: [{ ...splitQueues(taskQueue), name: 'durability', nodes: dagNodes }],
      });

      // Kill only once (1) every fast call has finished at the LLM server, (2) both workflows report
      // those tasks succeeded, i.e. their completions are in the histories (a completion the worker
      // had not yet reported would legitimately be retried), and (3) every slow call is in flight.
      const first = (m: string): RequestRecord | undefined => llm.stats().requests.find((r) => r.prompt.includes(m));
      const fastNames = new Set([...fanTasks.filter((t) => fastFan.includes(t.id)).map((t) => t.name), 'a', 'e', 'g']);
      await waitFor(
        'fast calls recorded and slow calls in flight',
        async () => {
          const finishedAtLlm = fast.every((m) => first(m)?.outcome === 'ok' && first(m)?.finishedAt !== undefined && !first(m)?.aborted);
          const inFlight = slow.every((m) => first(m) !== undefined && first(m)!.finishedAt === undefined);
          if (!finishedAtLlm || !inFlight) return false;
          const [fp, dp] = await Promise.all([progressOf(fanHandle), progressOf(dagHandle)]);
          const recorded = [...(fp?.tasks ?? []), ...(dp?.tasks ?? [])].filter((t) => fastNames.has(t.name) && t.state === 'succeeded');
          return recorded.length === fast.length;
        },
        60_000,
      );
      expect(first(marker('dag-d'))).toBeUndefined();

      const membersBeforeKill = liveGroupMembers(w1.pid);
      const killAt = Date.now();
      await killWorker(w1);
      const deadAfterMs = Date.now() - killAt;
      // The kill closed the worker's sockets: every in-flight request was abandoned, none answered.
      await waitFor('the LLM server to see the in-flight requests aborted', () => slow.every((m) => first(m)!.aborted), 10_000);

      const w2Started = Date.now();
      const w2 = startWorkerProcess('worker-2', env, logs);
      await waitForWorkerReady(w2);
      const w2ReadyMs = Date.now() - w2Started;

      const [fan, dag] = (await Promise.all([fanHandle.result(), dagHandle.result()])) as [FanOutResult, DagResult];

      // Every result is there.
      expect(fan.results.map((r) => r.name)).toEqual(fanTasks.map((t) => t.name));
      expect(fan.results.every((r) => r.state === 'succeeded' && r.output?.startsWith('Answer to'))).toBe(true);
      expect(fan.stats).toMatchObject({ total: 12, succeeded: 12, failed: 0 });
      expect(dag.results.map((r) => [r.taskId, r.state])).toEqual(dagNodes.map((n) => [n.id, 'succeeded']));
      expect(dag.stats).toMatchObject({ total: 7, succeeded: 7, failed: 0, skipped: 0 });

      const requests = llm.stats().requests;
      // Calls that finished before the kill were each received exactly once: the new worker did not repeat them.
      const finishedBeforeKill = requests.filter((r) => r.outcome === 'ok' && !r.aborted && r.finishedAt !== undefined && r.finishedAt <= killAt);
      const finishedMarkers = [...fast, ...slow].filter((m) => finishedBeforeKill.some((r) => r.prompt.includes(m)));
      expect(finishedMarkers.sort()).toEqual([...fast].sort());
      for (const m of finishedMarkers) expect([m, llm.countMatching(m)]).toEqual([m, 1]);

      // Each interrupted call was asked again, once, and the retry arrived once the heartbeat timeout
      // had expired (bounded by 10 s + the retry interval + the new worker's start: well under 25 s).
      const retryDelays: Record<string, number> = {};
      for (const m of slow) {
        const reqs = requests.filter((r) => r.prompt.includes(m));
        expect([m, reqs.length]).toEqual([m, 2]);
        expect(reqs[0].aborted).toBe(true);
        expect(reqs[1]).toMatchObject({ outcome: 'ok', aborted: false });
        retryDelays[m] = reqs[1].receivedAt - killAt;
      }
      const delays = Object.values(retryDelays);
      for (const d of delays) {
        expect(d).toBeGreaterThan(0);
        expect(d).toBeLessThan(LLM_HEARTBEAT_TIMEOUT_MS + 15_000);
      }

      // Attempts as the results report them: 2 for the interrupted tasks, 1 for the rest.
      const attemptsOf = (m: string) => {
        const t = fanTasks.find((x) => marker(x.id) === m);
        return t ? fan.results.find((r) => r.name === t.name)!.attempts : dag.results.find((r) => marker(`dag-${r.taskId}`) === m)!.attempts;
      };
      for (const m of slow) expect([m, attemptsOf(m)]).toEqual([m, 2]);
      for (const m of fast) expect([m, attemptsOf(m)]).toEqual([m, 1]);
      // d ran once, only after the kill, on the new worker.
      expect(llm.countMatching(marker('dag-d'))).toBe(1);
      expect(first(marker('dag-d'))!.receivedAt).toBeGreaterThan(killAt);
      expect(attemptsOf(marker('dag-d'))).toBe(1);
      // Nothing else was paid for: 9 fast + 9 slow twice + d.
      expect(requests).toHaveLength(fast.length + 2 * slow.length + 1);

      console.log(
        `durability/kill: worker group had ${membersBeforeKill?.length ?? '?'} live processes, all dead ${deadAfterMs} ms after SIGKILL; ` +
          `new worker ready in ${w2ReadyMs} ms; retries of the ${slow.length} interrupted calls arrived ` +
          `${(Math.min(...delays) / 1000).toFixed(2)}–${(Math.max(...delays) / 1000).toFixed(2)} s after the kill ` +
          `(heartbeat timeout ${LLM_HEARTBEAT_TIMEOUT_MS / 1000} s); runs completed ${((Date.now() - killAt) / 1000).toFixed(1)} s after the kill; ` +
          `${requests.length} LLM requests in total`,
      );
      await killWorker(w2);
    });
  });

  test('the dev server stopped and restarted on the same SQLite file mid-run: the run completes, nothing lost, the worker reconnects by itself', async () => {
    const logs = new Logs();
    await withLogs(logs, async () => {
      const run = randomUUID().slice(0, 8);
      const { address, restart } = await restartableServer('durability-server-');

      const llm = await startLocalLlmServer({ ttftMs: 3000, perTokenMs: 0, outputTokens: 20 });
      cleanups.push(() => llm.close());
      const taskQueue = `durability-restart-${run}`;
      const worker = startWorkerProcess('worker', { address, taskQueue, llmUrl: llm.url }, logs);
      await waitForWorkerReady(worker);

      const before = await connectClient(address);
      const tasks = Array.from({ length: 8 }, (_, i) => ({ name: `Topic ${i + 1}`, prompt: `[restart ${run} task-${i + 1}] Summarize topic ${i + 1}` }));
      const workflowId = `durability-restart-${run}`;
      await before.client.workflow.start('fanOut', { taskQueue, workflowId, args: [{ ...splitQueues(taskQueue), tasks }] });
      await waitFor('every call to be in flight', () => llm.stats().requests.length === tasks.length && llm.stats().inFlight === tasks.length);
      await before.connection.close();

      const { stopAt, downAt, restartAt, upAt } = await restart(2000);
      logs.add('test', `server stopped in ${downAt - stopAt} ms, back after ${upAt - downAt} ms`);

      const after = await connectClient(address);
      cleanups.push(() => after.connection.close());
      const handle = after.client.workflow.getHandle(workflowId);
      const r = (await handle.result()) as FanOutResult;
      const doneAt = Date.now();
      // The restarted server knows the run from before the stop: it came back from the SQLite file.
      expect((await handle.describe()).startTime.getTime()).toBeLessThan(stopAt);

      // Nothing lost: every task succeeded, in order, with its own answer.
      expect(r.results.map((x) => x.name)).toEqual(tasks.map((t) => t.name));
      expect(r.results.every((x) => x.state === 'succeeded' && x.output?.includes(`Summarize topic`))).toBe(true);
      expect(r.stats).toMatchObject({ total: 8, succeeded: 8, failed: 0 });
      // The one worker process, never restarted, did all of it: it is still running and is the only one.
      expect(worker.proc.exitCode).toBeNull();
      expect(worker.proc.signalCode).toBeNull();
      expect(spawnedWorkers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null).map((w) => w.pid)).toEqual([worker.pid]);

      // Only the server dispatches calls: none can start while it is down.
      const requests = llm.stats().requests;
      expect(requests.filter((q) => q.receivedAt > downAt && q.receivedAt < restartAt)).toEqual([]);
      // Each task was asked at least once. A call may legitimately be asked twice: if it finished
      // while the server was down and the worker could not deliver its completion, the server never
      // learned of it and retries it after the heartbeat timeout (at-least-once activities). So the
      // exact count is reported, not asserted.
      const counts = tasks.map((t) => llm.countMatching(`[restart ${run} task-${tasks.indexOf(t) + 1}]`));
      for (const c of counts) expect(c).toBeGreaterThanOrEqual(1);
      const repeated = counts.filter((c) => c > 1).length;
      const attempts = r.results.map((x) => x.attempts);
      const firstFinished = requests.slice(0, tasks.length).map((q) => q.finishedAt ?? 0);

      console.log(
        `durability/restart: server took ${downAt - stopAt} ms to stop, answered again ${((upAt - downAt) / 1000).toFixed(1)} s later; ` +
          `first calls finished ${((Math.min(...firstFinished) - stopAt) / 1000).toFixed(1)}–${((Math.max(...firstFinished) - stopAt) / 1000).toFixed(1)} s after the stop ` +
          `(${firstFinished.filter((f) => f > downAt && f < upAt).length} of ${tasks.length} during the outage); ` +
          `run completed ${((doneAt - upAt) / 1000).toFixed(1)} s after the restart; ${requests.length} LLM requests, ${repeated} calls repeated; attempts ${attempts.join(',')}`,
      );
      await killWorker(worker);
    });
  });

  test('with admission on, a server restart mid-run: waiting calls keep waiting, every permit is settled afterwards, none leaks', async () => {
    const logs = new Logs();
    await withLogs(logs, async () => {
      const run = randomUUID().slice(0, 8);
      const { address, restart } = await restartableServer('durability-limiter-');

      const llm = await startLocalLlmServer({ ttftMs: 2500, perTokenMs: 0, outputTokens: 20 });
      cleanups.push(() => llm.close());
      const taskQueue = `durability-limiter-${run}`;
      // At most 3 calls at once through the limiter: 3 in flight and 5 waiting in the worker's queue at the stop.
      const worker = startWorkerProcess('worker', { address, taskQueue, llmUrl: llm.url, extra: { LLM_ADAPTIVE_MAX: '3' } }, logs);
      await waitForWorkerReady(worker);

      const before = await connectClient(address);
      const tasks = Array.from({ length: 8 }, (_, i) => ({ name: `Topic ${i + 1}`, prompt: `[limiter ${run} task-${i + 1}] Summarize topic ${i + 1}` }));
      const workflowId = `durability-limiter-${run}`;
      await before.client.workflow.start('fanOut', { taskQueue, workflowId, args: [{ ...splitQueues(taskQueue), tasks }] });
      await waitFor('three calls in flight', () => llm.stats().inFlight === 3);
      await before.connection.close();

      // Down long enough that the calls in flight finish (and try to settle) while the server is down.
      const { downAt, restartAt, upAt } = await restart(4000);

      const after = await connectClient(address);
      cleanups.push(() => after.connection.close());
      const r = (await after.client.workflow.getHandle(workflowId).result()) as FanOutResult;
      expect(r.stats).toMatchObject({ total: 8, succeeded: 8, failed: 0 });
      const requests = llm.stats().requests;
      // The limit held through the outage. The worker's lease (15 s) outlives a 4 s outage, so
      // calls may start on its slots while the server is down; never more than its slots.
      expect(llm.stats().maxInFlight).toBeLessThanOrEqual(3);
      const duringOutage = requests.filter((q) => q.receivedAt > downAt && q.receivedAt < restartAt).length;
      // The usage reached the limiter after the restart, and nothing is left in flight.
      const status = await limiterWhenIdle(after.client, taskQueue, 10_000);
      expect(status.inFlight).toBe(0);
      expect(status.reported).toBeGreaterThanOrEqual(8);
      console.log(
        `durability/limiter: ${requests.length} LLM requests (${duringOutage} sent on the lease while the server was down), max ${llm.stats().maxInFlight} in flight, ${status.renewals} lease renewals, run done ${((Date.now() - upAt) / 1000).toFixed(1)} s after the restart`,
      );
      await killWorker(worker);
    });
  });
});

describe('durability of agents', () => {
  test('a worker SIGKILLed mid-agent: the new worker repeats no finished turn and no tool call, only the interrupted turn', async () => {
    const logs = new Logs();
    await withLogs(logs, async () => {
      const address = process.env.TEST_TEMPORAL_ADDRESS!;
      const run = randomUUID().slice(0, 8);
      const marker = (id: string) => `[agent-kill ${run} ${id}]`;
      const corpus = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-kill-corpus-'));
      cleanups.push(() => fs.rmSync(corpus, { recursive: true, force: true }));
      fs.writeFileSync(path.join(corpus, 'acme.md'), '# Acme\n\nAcme sells RocketSkates at $499 a pair.');
      fs.writeFileSync(path.join(corpus, 'globex.md'), '# Globex\n\nGlobex was founded in 1989 by Hank Scorpio.');
      const agents = ['acme', 'globex'];
      // Per agent: turn 1 (the tool turn) is fast; turn 2's first attempt would take 30 s, so it is
      // in flight when the worker dies; its retry is fast.
      const llm = await startLocalLlmServer({
        ttftMs: 200,
        perTokenMs: 0,
        outputTokens: 20,
        faults: agents.flatMap((a) => [
          { match: marker(a), times: 1, fault: { kind: 'latency' as const, ttftMs: 200 } },
          { match: marker(a), times: 1, fault: { kind: 'latency' as const, ttftMs: 30_000 } },
        ]),
      });
      cleanups.push(() => llm.close());
      const { client, connection } = await connectClient(address);
      cleanups.push(() => connection.close());
      const taskQueue = `durability-agent-${run}`;
      const env = { address, taskQueue, llmUrl: llm.url, extra: { DOCUMENTS_DIR: corpus } };

      const w1 = startWorkerProcess('worker-1', env, logs);
      await waitForWorkerReady(w1);
      const workflowId = `durability-agents-${run}`;
      const handle = await client.workflow.start('runDag', {
        taskQueue,
        workflowId,
        args: [
          {
            ...splitQueues(taskQueue),
            nodes: [
              ...agents.map((a) => ({ id: a, prompt: `${marker(a)} Research ${a} documents`, agent: { tools: ['search_documents'] } })),
              { id: 'summary', prompt: 'Compare {{acme}} with {{globex}}', dependsOn: agents },
            ],
          },
        ],
      });
      const requestsOf = (a: string) => llm.stats().requests.filter((r) => r.prompt.includes(marker(a)));
      const eventsOf = async (id: string) => (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
      const toolDone = async (a: string) =>
        (await eventsOf(`${workflowId}/${a}`).catch(() => [])).some((e) => e.activityTaskCompletedEventAttributes) &&
        requestsOf(a).length === 2 &&
        requestsOf(a)[1].finishedAt === undefined;
      // Kill once each agent's turn 1 and its search are in its history and its turn 2 is in flight.
      await waitFor('turn 1 and its tool call recorded, turn 2 in flight', async () => (await Promise.all(agents.map(toolDone))).every(Boolean), 60_000);
      const killAt = Date.now();
      await killWorker(w1);
      const w2 = startWorkerProcess('worker-2', env, logs);
      await waitForWorkerReady(w2);

      const r = (await handle.result()) as DagResult;
      expect(r.results.map((x) => [x.taskId, x.state])).toEqual([
        ['acme', 'succeeded'],
        ['globex', 'succeeded'],
        ['summary', 'succeeded'],
      ]);
      expect(r.results[0].output).toContain('RocketSkates at $499');
      expect(r.results[1].output).toContain('Hank Scorpio');
      for (const a of agents) {
        const reqs = requestsOf(a);
        // Turn 1 once (the only tool turn), turn 2 twice: the abandoned attempt and its retry.
        expect([a, reqs.length]).toEqual([a, 3]);
        expect(reqs.filter((q) => q.toolCalls?.length).length).toBe(1);
        expect(reqs[1].aborted).toBe(true);
        expect(reqs[2].receivedAt).toBeGreaterThan(killAt);
        // The search ran once, on the first worker, in its first attempt; turn 2 took two attempts.
        const events = await eventsOf(`${workflowId}/${a}`);
        const scheduled = new Map(
          events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType?.name]),
        );
        const started = events
          .filter((e) => e.activityTaskStartedEventAttributes)
          .map((e) => ({
            type: scheduled.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId)),
            attempt: e.activityTaskStartedEventAttributes!.attempt,
          }));
        expect([a, started]).toEqual([
          a,
          [
            { type: 'describeAgentTools', attempt: 1 },
            { type: 'agentTurn', attempt: 1 },
            { type: 'runAgentTool', attempt: 1 },
            { type: 'agentTurn', attempt: 2 },
          ],
        ]);
      }
      console.log(
        `durability/agents: the interrupted turns were retried ${((Math.min(...agents.map((a) => requestsOf(a)[2].receivedAt)) - killAt) / 1000).toFixed(2)} s after the kill; ${llm.stats().requests.length} LLM requests in all`,
      );
      await killWorker(w2);
    });
  });
});
