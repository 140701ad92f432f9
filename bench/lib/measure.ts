/**
 * One measured run: set the LLM server's latency (and faults), pick the worker, run a workflow or
 * a baseline, and collect wall clock, the workflow's own stats, what the LLM server saw, the
 * worker's peak RSS and the CPU every process used (including other people's: "foreign").
 */
import fs from 'node:fs';
import { splitQueues } from '../../src/client';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../scripts/dev-server';
import { JS } from './build';
import { type BenchEnv, cpuDelta, type CpuUse, type WorkerConfig, type WorkerHandle } from './env';
import { callMs, type FaultRule, type Latency, type LlmStats } from './llm-admin';
import { machineBusySeconds, ProcCpu, start, statusMb, stop } from './procs';
import { activityDispatch, histories, type Layout, runWorkflow, workflowTaskFailures } from './runwf';
import { fanOutTasks } from './tasks';

/** The result statistics every workflow of the project returns (the parts the bench reads). */
export interface WfStats {
  total: number;
  succeeded: number;
  failed: number;
  skipped?: number;
  cancelled?: number;
  sumDurationMs: number;
  wallClockMs: number;
  speedup?: number;
  criticalPath?: string[];
  idealMakespanMs?: number;
  tokens?: { input: number; output: number };
  cacheHits?: number;
}

/** One task or node result (the parts the bench reads). */
export interface WfTaskResult {
  taskId: string;
  state: string;
  durationMs: number;
  error?: string | null;
  startedAt?: number | null;
  finishedAt?: number | null;
}

export interface WfResult {
  results: WfTaskResult[];
  stats: WfStats;
}

/** A measured workflow run. */
export interface Measured {
  label: string;
  workflowId: string;
  /** Client wall clock: start request → result. */
  wallMs: number;
  /**
   * The workflow's own wall: from the server's start time to its close time (describe). Not the
   * run's stats.wallClockMs, which is workflow time: it stands still while a workflow task is open,
   * and with llmDispatch 'local' the task stays open while the calls run.
   */
  wfWallMs?: number;
  stats?: WfStats;
  results?: WfTaskResult[];
  error?: string;
  llm: { calls: number; maxInFlight: number; throttled: number; firstArrivalMs?: number; lastArrivalMs?: number; lastFinishMs?: number };
  /** Per request (kept with the arrivals): arrival time and input tokens. */
  requestTokens?: { at: number; input: number }[];
  /** Raw request arrival times (epoch ms), kept only when asked for. */
  arrivals?: number[];
  rssPeakMb: number;
  cpu: CpuUse;
  /** Dev server counters during the run: frontend RPCs by operation and persistence operations. */
  server?: Record<string, number>;
  /** Failed / timed-out workflow tasks in the run's history (root workflow). */
  wft?: { failed: number; timedOut: number; causes: Record<string, number> };
  /** How the run's activities were routed ('split' unless asked otherwise) and how they reached the worker (root workflow's history). */
  layout?: Layout;
  dispatch?: { activities: number; eager: number; medianGapMs: number; maxGapMs: number };
  worker: { taskQueue: string; config: WorkerConfig };
}

/** Counter increments between two serverCounters() snapshots. */
export function counterDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) {
    const d = v - (a[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** The dev server reports its counters about once a second: wait this long before reading them. */
const METRICS_FLUSH_MS = 1100;

/** Context handed to every case. */
export class Bench {
  /** RSS (MB) of the newest worker after its start and warm-up. */
  lastWorkerStartRssMb = NaN;
  /** Seconds spent waiting for the machine to quieten down, and runs that started on a busy machine anyway. */
  readonly quietStats = { waitedS: 0, busyStarts: 0 };

  constructor(
    readonly env: BenchEnv,
    readonly quick: boolean,
    readonly log: (s: string) => void,
    /** `--reps N`: repetitions of every repeated point (default: 1 in --quick, 3 otherwise). */
    readonly reps?: number,
  ) {}

  /**
   * Waits (up to a limit) until the machine is quiet: other people's builds and tests share these
   * 2 cores, and a run measured during one of them says little. Quiet = under 25% of the cores
   * busy over half a second (the bench's own idle processes included).
   */
  async quiet(): Promise<void> {
    const maxWaitMs = this.quick ? 3000 : 60_000;
    const t0 = Date.now();
    for (;;) {
      const m0 = machineBusySeconds();
      await new Promise((r) => setTimeout(r, 500));
      const busy = (machineBusySeconds() - m0) / 0.5 / os.cpus().length;
      // At least METRICS_FLUSH_MS, so the server's counters of the previous run have been flushed.
      if (busy < 0.25 && Date.now() - t0 >= METRICS_FLUSH_MS) break;
      if (Date.now() - t0 > maxWaitMs) {
        this.quietStats.busyStarts++;
        break;
      }
    }
    this.quietStats.waitedS += (Date.now() - t0) / 1000;
  }

  /** The worker for a config, warmed up with a small L=0 fan-out when it was (re)started. */
  async worker(c: WorkerConfig): Promise<WorkerHandle> {
    const before = this.env.worker;
    const w = await this.env.workerFor(c);
    if (w !== before) {
      await this.env.llm.prepare({ ttftMs: 0, perTokenMs: 0, outputTokens: 5 });
      // Both layouts: the LLM queue's worker and the main queue's activities (single-queue runs).
      for (const layout of ['split', 'single', 'local'] as const) {
        const warm = await runWorkflow(
          this.env.client,
          'fanOut',
          { tasks: fanOutTasks(20), maxConcurrent: 20 },
          { taskQueue: w.taskQueue, idPrefix: 'bench-warmup', timeoutMs: 60_000, layout },
        );
        if (warm.error) throw new Error(`warm-up run (${layout} layout) failed on the new worker: ${warm.error}`);
      }
      this.lastWorkerStartRssMb = statusMb(w.proc.pid, 'VmRSS') ?? NaN;
    }
    return w;
  }

  /** Runs one workflow on a worker with the LLM server set to `latency` (+ faults) and measures it. */
  async measure<T extends WfResult>(o: {
    label: string;
    worker: WorkerConfig;
    latency: Latency;
    faults?: FaultRule[];
    /** The LLM server's emulated API rate limits for this run. */
    rateLimits?: { rpm?: number; itpm?: number; otpm?: number; tpm?: number; windowMs?: number };
    type: string;
    input: unknown;
    timeoutMs?: number;
    keepArrivals?: boolean;
    idPrefix?: string;
    /** 'split' (default: LLM calls on `<q>-llm`, as the CLI routes them) or 'single' (on the workflow's queue: eager dispatch). */
    layout?: Layout;
  }): Promise<Measured & { result?: T }> {
    const w = await this.worker(o.worker);
    await this.env.llm.waitIdle();
    await this.quiet();
    await this.env.llm.prepare(o.latency, o.faults);
    if (o.rateLimits) await this.env.llm.rateLimits(o.rateLimits);
    w.rss.reset();
    const s0 = await this.env.serverCounters();
    const c0 = this.env.cpu();
    const t0 = Date.now();
    const run = await runWorkflow<T>(this.env.client, o.type, o.input, {
      taskQueue: w.taskQueue,
      idPrefix: o.idPrefix ?? `bench-${o.type}`,
      timeoutMs: o.timeoutMs ?? 300_000,
      layout: o.layout,
    });
    const cpu = cpuDelta(c0, this.env.cpu());
    const rssPeakMb = w.rss.peakMb();
    await new Promise((r) => setTimeout(r, METRICS_FLUSH_MS));
    const server = counterDelta(s0, await this.env.serverCounters());
    const stats = await this.env.llm.stats();
    const wft = await workflowTaskFailures(this.env.client, run.workflowId);
    const dispatch = await activityDispatch(this.env.client, run.workflowId);
    const described = await this.env.client.workflow
      .getHandle(run.workflowId)
      .describe()
      .catch(() => undefined);
    const m: Measured & { result?: T } = {
      label: o.label,
      workflowId: run.workflowId,
      wallMs: Math.round(run.wallMs),
      wfWallMs: described?.closeTime ? described.closeTime.getTime() - described.startTime.getTime() : run.result?.stats.wallClockMs,
      stats: run.result?.stats,
      results: run.result?.results,
      result: run.result,
      error:
        run.error ??
        (run.result && run.result.stats.succeeded < run.result.stats.total
          ? `${run.result.stats.total - run.result.stats.succeeded} of ${run.result.stats.total} tasks did not succeed`
          : undefined),
      llm: llmSummary(stats, t0),
      arrivals: o.keepArrivals ? stats.requests.map((r) => r.receivedAt) : undefined,
      requestTokens: o.keepArrivals ? stats.requests.filter((r) => r.outcome === 'ok').map((r) => ({ at: r.receivedAt, input: r.inputTokens })) : undefined,
      rssPeakMb,
      cpu,
      server,
      wft,
      layout: o.layout ?? 'split',
      dispatch,
      worker: { taskQueue: w.taskQueue, config: w.config },
    };
    this.log(
      `  ${o.label}: ${m.error ? `ERROR ${m.error} after ` : ''}${(m.wallMs / 1000).toFixed(2)} s, ${m.llm.calls} calls (max ${m.llm.maxInFlight} in flight), ` +
        `${wft && wft.failed + wft.timedOut ? `${wft.failed + wft.timedOut} workflow tasks failed/timed out, ` : ''}` +
        `${dispatch ? `${dispatch.eager}/${dispatch.activities} activities started ≤ 5 ms after scheduling (eager; scheduled → started median ${dispatch.medianGapMs} ms, max ${dispatch.maxGapMs} ms), ` : ''}` +
        `RSS ${Math.round(rssPeakMb)} MB, CPU s temporal ${cpu.temporal.toFixed(1)} worker ${cpu.worker.toFixed(1)} llm ${cpu.llm.toFixed(1)} foreign ${cpu.foreign.toFixed(1)}`,
    );
    return m;
  }

  /** Runs `n` independent tasks through fanOut with at most k in flight. */
  fanOut(o: { label: string; n: number; k: number; latency: Latency; worker?: WorkerConfig; timeoutMs?: number; keepArrivals?: boolean; layout?: Layout }): Promise<Measured> {
    return this.measure({
      label: o.label,
      worker: o.worker ?? { maxConcurrent: Math.max(200, o.k) },
      latency: o.latency,
      type: 'fanOut',
      input: { tasks: fanOutTasks(o.n), maxConcurrent: o.k },
      timeoutMs: o.timeoutMs,
      keepArrivals: o.keepArrivals,
      idPrefix: `bench-fanout-${o.n}`,
      layout: o.layout,
    });
  }

  /** Runs `shards` fanOut workflows at once, n / shards tasks each with k in flight each; one Measured for all. */
  async parallelFanOuts(o: { label: string; shards: number; n: number; k: number; latency: Latency; worker: WorkerConfig }): Promise<Measured> {
    const w = await this.worker(o.worker);
    await this.env.llm.waitIdle();
    await this.quiet();
    await this.env.llm.prepare(o.latency);
    w.rss.reset();
    const c0 = this.env.cpu();
    const t0 = Date.now();
    const per = Math.ceil(o.n / o.shards);
    const runs = await Promise.all(
      Array.from({ length: o.shards }, () =>
        runWorkflow<WfResult>(
          this.env.client,
          'fanOut',
          { tasks: fanOutTasks(per), maxConcurrent: o.k },
          { taskQueue: w.taskQueue, idPrefix: `bench-shard-${per}`, timeoutMs: 300_000 },
        ),
      ),
    );
    const cpu = cpuDelta(c0, this.env.cpu());
    const rssPeakMb = w.rss.peakMb();
    const stats = await this.env.llm.stats();
    const ok = runs.filter((r) => r.result);
    const total = ok.reduce((s, r) => s + r.result!.stats.total, 0);
    const succeeded = ok.reduce((s, r) => s + r.result!.stats.succeeded, 0);
    const error = runs.find((r) => r.error)?.error ?? (succeeded < per * o.shards ? `${per * o.shards - succeeded} tasks did not succeed` : undefined);
    const m: Measured = {
      label: o.label,
      workflowId: runs.map((r) => r.workflowId).join(','),
      wallMs: Math.round(Math.max(...runs.map((r) => r.wallMs))),
      stats: {
        total,
        succeeded,
        failed: total - succeeded,
        sumDurationMs: ok.reduce((s, r) => s + r.result!.stats.sumDurationMs, 0),
        wallClockMs: Math.max(...ok.map((r) => r.result!.stats.wallClockMs)),
      },
      error,
      llm: llmSummary(stats, t0),
      rssPeakMb,
      cpu,
      worker: { taskQueue: w.taskQueue, config: w.config },
    };
    this.log(
      `  ${o.label}: ${error ? `ERROR ${error} after ` : ''}${(m.wallMs / 1000).toFixed(2)} s, ${m.llm.calls} calls, RSS ${Math.round(rssPeakMb)} MB, foreign CPU ${cpu.foreign.toFixed(1)} s`,
    );
    return m;
  }

  /**
   * Starts a fanOut, watches the LLM server for `observeMs`, then terminates the run and its
   * child workflows: for checks that only need the first moments of a long run.
   */
  async probeFanOut(o: {
    label: string;
    n: number;
    k: number;
    latency: Latency;
    worker: WorkerConfig;
    observeMs: number;
  }): Promise<{ maxInFlight: number; calls: number; workflows: number }> {
    const w = await this.worker(o.worker);
    await this.env.llm.waitIdle();
    await this.env.llm.prepare(o.latency);
    const workflowId = `bench-probe-${o.n}-${Date.now().toString(36)}`;
    const handle = await this.env.client.workflow.start('fanOut', {
      taskQueue: w.taskQueue,
      workflowId,
      args: [{ ...splitQueues(w.taskQueue), tasks: fanOutTasks(o.n), maxConcurrent: o.k }],
    });
    await new Promise((r) => setTimeout(r, o.observeMs));
    const stats = await this.env.llm.stats();
    const runs = await histories(this.env.client, workflowId);
    await handle.terminate('bench: probe done').catch(() => undefined);
    for (const h of runs)
      if (h.workflowId !== workflowId)
        await this.env.client.workflow
          .getHandle(h.workflowId)
          .terminate('bench: probe done')
          .catch(() => undefined);
    await this.env.llm.waitIdle(Math.max(10_000, callMs(o.latency) + 5000));
    this.log(`  ${o.label}: max ${stats.maxInFlight} in flight after ${o.observeMs / 1000} s (${stats.calls} calls, ${runs.length} workflows), then terminated`);
    return { maxInFlight: stats.maxInFlight, calls: stats.calls, workflows: runs.length };
  }

  /** Runs a baseline process against the same LLM server at `latency`; returns its own timing. */
  async baseline(kind: 'in-process' | 'python', o: { n: number; k: number; latency: Latency; rpm?: number; python?: string }): Promise<BaselineRun> {
    await this.env.llm.waitIdle();
    await this.quiet();
    await this.env.llm.prepare(o.latency);
    const logFile = path.join(this.env.tmpDir, `baseline-${kind}-${Date.now()}.log`);
    const [cmd, args] =
      kind === 'in-process'
        ? [process.execPath, [path.relative(ROOT, JS.inProcess), '--n', String(o.n), '--k', String(o.k), '--base-url', this.env.llm.url, '--rpm', String(o.rpm ?? 0)]]
        : [o.python!, ['bench/baselines/seed_asyncio.py', String(o.n), String(o.k), this.env.llm.url, '--rpm', String(o.rpm ?? 0)]];
    const c0 = this.env.cpu();
    const p = start(`${kind} baseline`, cmd, args, { cwd: ROOT, logFile });
    // Its CPU, read while it runs.
    const meter = new ProcCpu(p.pid);
    const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 600_000).unref())]);
    const childCpu = meter.stop();
    if (code === 'timeout') await stop(p);
    const cpu = cpuDelta(c0, this.env.cpu(), childCpu);
    const text = fs.readFileSync(logFile, 'utf8');
    const line = text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .pop();
    const stats = await this.env.llm.stats();
    if (code !== 0 || !line) {
      const error = `${kind} baseline exited ${String(code)}: ${text.trim().split('\n').slice(-3).join(' ').slice(0, 300)}`;
      this.log(`  ${kind} N=${o.n} k=${o.k}: ERROR ${error}`);
      return { kind, n: o.n, k: o.k, latencyMs: callMs(o.latency), wallMs: NaN, error, cpu, maxInFlight: stats.maxInFlight };
    }
    const r = JSON.parse(line) as { wallMs: number; ok: number; failed: number; firstError?: string };
    const out: BaselineRun = {
      kind,
      n: o.n,
      k: o.k,
      latencyMs: callMs(o.latency),
      wallMs: r.wallMs,
      error: r.failed ? `${r.failed} failed: ${r.firstError ?? ''}` : undefined,
      cpu,
      maxInFlight: stats.maxInFlight,
    };
    this.log(
      `  ${kind} baseline N=${o.n} k=${o.k} L=${callMs(o.latency)} ms: ${(r.wallMs / 1000).toFixed(2)} s${out.error ? ` (${out.error})` : ''}, foreign CPU ${cpu.foreign.toFixed(1)} s`,
    );
    return out;
  }
}

/** A baseline run. */
export interface BaselineRun {
  kind: 'in-process' | 'python';
  n: number;
  k: number;
  latencyMs: number;
  wallMs: number;
  error?: string;
  cpu: CpuUse;
  maxInFlight: number;
}

/** Arrival and finish times of the run's requests, relative to its start. */
function llmSummary(s: LlmStats, t0: number): Measured['llm'] {
  const arr = s.requests.map((r) => r.receivedAt);
  const fin = s.requests.map((r) => r.finishedAt ?? r.receivedAt);
  return {
    calls: s.calls,
    maxInFlight: s.maxInFlight,
    throttled: s.requests.filter((r) => r.status === 429).length,
    firstArrivalMs: arr.length ? Math.min(...arr) - t0 : undefined,
    lastArrivalMs: arr.length ? Math.max(...arr) - t0 : undefined,
    lastFinishMs: fin.length ? Math.max(...fin) - t0 : undefined,
  };
}
