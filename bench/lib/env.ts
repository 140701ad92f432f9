/**
 * What every case runs on: the bench's own Temporal dev server (free port, headless, in memory),
 * the local LLM server in its own process, the workflow bundle built once, and real worker
 * processes whose RSS and CPU are metered. Every process measured runs the compiled JS with plain
 * `node`, as users run it (`node dist/src/worker/main.js` = `npm run worker`, or the bench-only
 * variant `dist/bench/worker-variant.js`); run.ts builds dist/ first (lib/build.ts). One process
 * each, no launcher in between: its pid is the one metered and signalled.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Client, Connection } from '@temporalio/client';
import { bundleWorkflows } from '../../src/worker/bundle';
import { prebuiltWorkflowBundle } from '../../src/worker/prebuilt-bundle';
import { freePort, spawnDevServer, waitForTemporal, ROOT } from '../../scripts/dev-server';
import { loadConfig } from '../../src/config';
import { connectClient } from '../../src/cli/connect';
import { LlmAdmin } from './llm-admin';
import { DIST, JS } from './build';
import { adopt, cpuSeconds, machineBusySeconds, RssMeter, selfCpuSeconds, sleep, start, stop, type Proc } from './procs';

/** LLM_FLOW_INITIAL_CONCURRENCY of bench workers unless a case sets it (see workerFor). */
export const BENCH_FLOW_INITIAL_CONCURRENCY = '1000';

/** tsx, for the "before" side of the startup case (the CLI as `tsx src/cli/main.ts`). */
export const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

/** How a case wants its worker process. */
export interface WorkerConfig {
  /** LLM_MAX_CONCURRENT of the worker. */
  maxConcurrent: number;
  /** LLM_RPM of the worker (0 = off). */
  rpm?: number;
  /** Options of the bench-only worker variant (bench/worker-variant.ts); absent = the real worker entry. */
  variant?: Record<string, unknown>;
  /** Start a new process even if a matching one runs (clean RSS / cache). */
  fresh?: boolean;
  /** Extra environment of the worker process. */
  extraEnv?: Record<string, string>;
  /** Node flags for the worker, e.g. --cpu-prof for profiling. */
  nodeArgs?: string[];
  /**
   * How the worker is launched: 'node' (default; `node dist/src/worker/main.js`, exactly
   * `npm run worker`) or 'node-cjs' (`node --require tsx/cjs src/worker/main.ts`: the TypeScript
   * sources through tsx's CommonJS transpile hook, in one process, for comparisons with the
   * sources as they are now, without a build).
   */
  launcher?: 'node' | 'node-cjs';
}

/** A running worker process. */
export interface WorkerHandle {
  key: string;
  config: WorkerConfig;
  taskQueue: string;
  /** The worker's node process (its pid is the one metered). */
  proc: Proc;
  rss: RssMeter;
  startedInMs: number;
}

/** Process ids whose CPU time is recorded per case. */
export interface CpuSnapshot {
  temporal: number;
  worker: number;
  llm: number;
  bench: number;
  /** Whole machine (all processes). */
  machine: number;
  at: number;
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };

export class BenchEnv {
  worker?: WorkerHandle;
  private workerSeq = 0;

  private constructor(
    readonly tmpDir: string,
    readonly address: string,
    readonly temporal: Proc,
    readonly llmProc: Proc,
    readonly llm: LlmAdmin,
    readonly bundlePath: string,
    readonly client: Client,
    private readonly connection: Connection,
    readonly startupMs: { temporal: number; bundle: number; llm: number },
    readonly log: (s: string) => void,
    readonly metricsUrl: string,
  ) {}

  /**
   * The dev server's request counters (its Prometheus endpoint): frontend RPCs by operation
   * (`frontend:RecordActivityTaskHeartbeat`, ...) and persistence operations (`persistence`).
   * Empty when the endpoint does not answer.
   */
  async serverCounters(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    try {
      const text = await (await fetch(this.metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
      for (const line of text.split('\n')) {
        const m = /^(service_requests|persistence_requests)\{([^}]*)\}\s+([0-9.e+]+)/.exec(line);
        if (!m) continue;
        const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        const key = m[1] === 'persistence_requests' ? 'persistence' : labels.service_name === 'frontend' ? `frontend:${labels.operation}` : undefined;
        if (key) out[key] = (out[key] ?? 0) + Number(m[3]);
      }
    } catch {
      // no metrics: counters stay empty
    }
    return out;
  }

  /** Environment shared by the worker processes and the bench's own client (same payload store). */
  baseEnv(): NodeJS.ProcessEnv {
    return baseEnv(this.tmpDir, this.address, this.llm.url);
  }

  /** Starts the environment; `devServerArgs` are extra `temporal server start-dev` arguments (e.g. dynamic config). */
  static async create(log: (s: string) => void, devServerArgs: string[] = []): Promise<BenchEnv> {
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
    const t0 = Date.now();
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const metricsPort = await freePort();
    const temporal = adopt('temporal dev server', spawnDevServer({ port, headless: true, detached: true, extraArgs: ['--metrics-port', String(metricsPort), ...devServerArgs] }));
    const llmPort = await freePort();
    const llmLog = path.join(tmpDir, 'llm-server.log');
    const llmProc = start('llm server', process.execPath, [JS.llmServer], {
      cwd: ROOT,
      logFile: llmLog,
      env: { ...process.env, LLM_SERVER_PORT: String(llmPort), LLM_TTFT_MS: '0', LLM_PER_TOKEN_MS: '0', LLM_OUTPUT_TOKENS: '20' },
    });
    const llm = new LlmAdmin(`http://127.0.0.1:${llmPort}`);
    const timings = { temporal: 0, bundle: 0, llm: 0 };
    const [, bundle] = await Promise.all([
      waitForTemporal(address, 90_000).then(() => void (timings.temporal = Date.now() - t0)),
      // The build's bundle when it is current (what `npm run worker` loads), else bundled here from
      // the compiled workflows the same way (WORKFLOWS_PATH in dist/src/worker/create-workers.js).
      (async () => {
        const prebuilt = prebuiltWorkflowBundle(path.join(DIST, 'workflow-bundle.js'), path.join(DIST, 'src'));
        const b = prebuilt ? { code: fs.readFileSync(prebuilt.codePath, 'utf8'), prebuilt: true } : { ...(await bundleWorkflows(JS.workflows, quietLogger)), prebuilt: false };
        timings.bundle = Date.now() - t0;
        return b;
      })(),
      (async () => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          if (!llmProc.isAlive()) throw new Error(`the LLM server exited: ${fs.readFileSync(llmLog, 'utf8').slice(-500)}`);
          try {
            await llm.health();
            break;
          } catch {
            if (Date.now() > deadline) throw new Error('the LLM server did not answer within 60 s');
            await sleep(100);
          }
        }
        timings.llm = Date.now() - t0;
      })(),
    ]);
    const bundlePath = path.join(tmpDir, 'workflow-bundle.js');
    fs.writeFileSync(bundlePath, bundle.code);
    const { client, connection } = await connectClient(loadConfig(baseEnv(tmpDir, address, llm.url)));
    log(
      `environment: Temporal dev server ${address} (ready in ${(timings.temporal / 1000).toFixed(1)} s), LLM server ${llm.url} ` +
        `(${(timings.llm / 1000).toFixed(1)} s), workflow bundle ${(bundle.code.length / 1e6).toFixed(1)} MB (${bundle.prebuilt ? "the build's" : `bundled in ${(timings.bundle / 1000).toFixed(1)} s`}); logs in ${tmpDir}`,
    );
    return new BenchEnv(tmpDir, address, temporal, llmProc, llm, bundlePath, client, connection, timings, log, `http://127.0.0.1:${metricsPort}/metrics`);
  }

  /** The worker process a case asks for: reused when its config matches, else (re)started. */
  async workerFor(c: WorkerConfig): Promise<WorkerHandle> {
    const key = JSON.stringify({ m: c.maxConcurrent, r: c.rpm ?? 0, v: c.variant ?? null, e: c.extraEnv ?? null, a: c.nodeArgs ?? null, l: c.launcher ?? 'node' });
    if (this.worker && this.worker.key === key && !c.fresh && this.worker.proc.isAlive()) return this.worker;
    await this.stopWorker();
    const taskQueue = `bench-${++this.workerSeq}-${randomUUID().slice(0, 8)}`;
    const logFile = path.join(this.tmpDir, `worker-${this.workerSeq}.log`);
    // bench/worker-variant.ts loads '../src/worker/main': dist/src/worker/main.js once compiled to dist/bench/.
    const script = c.launcher === 'node-cjs' ? (c.variant ? 'bench/worker-variant.ts' : 'src/worker/main.ts') : path.relative(ROOT, c.variant ? JS.workerVariant : JS.worker);
    const args = [...(c.nodeArgs ?? []), ...(c.launcher === 'node-cjs' ? ['--require', 'tsx/cjs'] : []), script];
    const t0 = Date.now();
    const proc = start(`worker ${this.workerSeq}`, process.execPath, args, {
      cwd: ROOT,
      logFile,
      env: {
        ...this.baseEnv(),
        TEMPORAL_TASK_QUEUE: taskQueue,
        LLM_MAX_CONCURRENT: String(c.maxConcurrent),
        LLM_RPM: String(c.rpm ?? 0),
        WORKFLOW_BUNDLE: this.bundlePath,
        // The overhead, ceiling and scale cases measure orchestration, not flow control's cold
        // start: their workers start as one that has learned the provider takes everything at
        // once. The flow case sets the shipped default (16) where it measures flow control.
        LLM_FLOW_INITIAL_CONCURRENCY: BENCH_FLOW_INITIAL_CONCURRENCY,
        ...(c.variant ? { BENCH_WORKER_OPTIONS: JSON.stringify(c.variant) } : {}),
        ...c.extraEnv,
      },
    });
    // The worker prints "worker: task queue ..." once its workers are created.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      if (/worker: task queue/.test(text)) break;
      if (!proc.isAlive() || Date.now() > deadline) {
        await stop(proc);
        throw new Error(`worker did not start (${script}): ${text.slice(-1500)}`);
      }
      await sleep(50);
    }
    const rss = new RssMeter(proc.pid).start();
    this.worker = { key, config: c, taskQueue, proc, rss, startedInMs: Date.now() - t0 };
    this.log(
      `  worker ${this.workerSeq}: node ${args.join(' ')} LLM_MAX_CONCURRENT=${c.maxConcurrent}${c.rpm ? ` LLM_RPM=${c.rpm}` : ''}${c.variant ? ` ${JSON.stringify(c.variant)}` : ''} (ready in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
    return this.worker;
  }

  async stopWorker(): Promise<void> {
    if (!this.worker) return;
    const w = this.worker;
    w.rss.stop();
    // One SIGTERM (the SDK treats a repeated signal as "exit now", which would lose e.g. a
    // --cpu-prof profile), up to 15 s for a clean shutdown, then SIGKILL.
    await stop(w.proc, 15_000);
    this.worker = undefined;
  }

  /** CPU seconds used so far by the dev server, the current worker and the LLM server. */
  cpu(): CpuSnapshot {
    return {
      temporal: cpuSeconds(this.temporal.pid) ?? 0,
      worker: this.worker ? (cpuSeconds(this.worker.proc.pid) ?? 0) : 0,
      llm: cpuSeconds(this.llmProc.pid) ?? 0,
      bench: selfCpuSeconds(),
      machine: machineBusySeconds(),
      at: Date.now(),
    };
  }

  async close(keepLogs: boolean): Promise<void> {
    await this.stopWorker().catch(noop);
    await this.connection.close().catch(noop);
    await Promise.all([stop(this.llmProc), stop(this.temporal)]);
    if (!keepLogs) fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

function baseEnv(tmpDir: string, address: string, llmUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing of the caller's own setup (a real key, another server) leaks into the bench.
  // Everything else is the project's defaults (log level and format included).
  for (const k of Object.keys(env))
    if (/^(ANTHROPIC_|LLM_|TEMPORAL_|PAYLOAD_|WORKER_ROLES$|WORKFLOW_BUNDLE$|RUNS_DIR$|CACHE_DIR$|METRICS_PORT$|LOG_|TOOLS_)/.test(k)) delete env[k];
  return {
    ...env,
    TEMPORAL_ADDRESS: address,
    ANTHROPIC_API_KEY: 'bench-key',
    ANTHROPIC_BASE_URL: llmUrl,
    RUNS_DIR: path.join(tmpDir, 'runs'),
    PAYLOAD_STORE_DIR: path.join(tmpDir, 'payloads'),
    CACHE_DIR: path.join(tmpDir, 'cache'),
  };
}

/** CPU seconds used between two snapshots, per process, and as a share of the elapsed time. */
export interface CpuUse {
  temporal: number;
  worker: number;
  llm: number;
  bench: number;
  /** CPU seconds of every other process on the machine (other people's builds and tests): noise. */
  foreign: number;
  elapsed: number;
}

/** CPU seconds used between two snapshots, per process; `extra` is CPU of other processes of ours (a baseline child). */
export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot, extra = 0): CpuUse {
  const d = { temporal: b.temporal - a.temporal, worker: b.worker - a.worker, llm: b.llm - a.llm, bench: b.bench - a.bench };
  const ours = d.temporal + d.worker + d.llm + d.bench + extra;
  return { ...d, foreign: Math.max(0, b.machine - a.machine - ours), elapsed: (b.at - a.at) / 1000 };
}
