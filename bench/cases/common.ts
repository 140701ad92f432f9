/**
 * What the case modules share: the case interface (tables, the targets a case reports against,
 * raw data for the results JSON), the latencies and the worker the cases measure at, and the
 * summaries of measured runs their tables print.
 */
import { type WorkerConfig } from '../lib/env';
import { median, ms, num, pct, type TableData } from '../lib/format';
import { type Latency } from '../lib/llm-admin';
import { type Bench, type BaselineRun, type Measured } from '../lib/measure';
import { type Layout } from '../lib/runwf';

/** A target the issue sets, and how this run did against it. */
export interface Target {
  case: string;
  target: string;
  measured: string;
  met: boolean | undefined;
  note?: string;
}

export interface CaseResult {
  tables: TableData[];
  targets: Target[];
  data: unknown;
}

/** State shared by the cases of one bench run (baseline runs are reused side by side). */
export interface Shared {
  /** Our fanOut runs and the baselines, per point `N/k/L` (bench/cases/points.ts). */
  points: Map<string, Point>;
  python?: { bin?: string; unavailable?: string };
  /**
   * Extra runners measured at every point beside ours, interleaved: by default the single-queue
   * layout on the shipped worker; `--variant label=JSON` adds worker variants (bench/run.ts).
   */
  runners: Runner[];
}

/** A way to run our fanOut besides the split layout on the shipped worker: another layout and/or a worker variant. */
export interface Runner {
  label: string;
  layout: Layout;
  /** Options of bench/worker-variant.ts (absent: the shipped worker). */
  variant?: Record<string, unknown>;
  /** Node flags of its worker process (e.g. `--require <preload>`). */
  nodeArgs?: string[];
}

/** The runner every point measures beside the split layout. */
export const SINGLE_QUEUE: Runner = { label: 'single queue (eager dispatch)', layout: 'single' };
/** The runner with the run's LLM calls as local activities of the workflow's worker (`llmDispatch: 'local'`). */
export const LOCAL_ACTIVITIES: Runner = { label: 'local activities (llmDispatch local)', layout: 'local' };

/** One N/k/L point: ours (split layout, as the CLI routes), the other runners, the baselines. */
export interface Point {
  n: number;
  k: number;
  latencyMs: number;
  ours: Measured[];
  /** Per runner label (Shared.runners), in the same order. */
  alt: Map<string, Measured[]>;
  inProcess: BaselineRun[];
  python: BaselineRun[];
}

/** One case: measures (never asserts) and returns its tables, targets and data. */
export interface CaseDef {
  id: string;
  title: string;
  inQuick: boolean;
  run(b: Bench, shared: Shared): Promise<CaseResult>;
}

/** L = 1 s with a short reply: ttft 1000 ms, 20 tokens at 0 ms/token. */
export const L1: Latency = { ttftMs: 1000, perTokenMs: 0, outputTokens: 20 };
/** L = 0. */
export const L0: Latency = { ttftMs: 0, perTokenMs: 0, outputTokens: 5 };
/** L = 100 ms with a short reply. */
export const L100: Latency = { ttftMs: 100, perTokenMs: 0, outputTokens: 5 };
/** The seed's L = 3 s: ttft 1000 ms + 250 tokens × 8 ms. */
export const L3: Latency = { ttftMs: 1000, perTokenMs: 8, outputTokens: 250 };
/** Long calls, so that 1,000 are in flight at once. */
const L_INFLIGHT: Latency = { ttftMs: 30_000, perTokenMs: 0, outputTokens: 20 };

/** The worker most runs use: the shipped one with 200 LLM slots. */
export const DEFAULT_WORKER: WorkerConfig = { maxConcurrent: 200 };

/** Repetitions of a point: 3 in full runs (the median is reported), 1 in --quick, unless `--reps N` says otherwise. */
export const reps = (b: Bench) => b.reps ?? (b.quick ? 1 : 3);

/**
 * fanOut N = 1000 at k = 1000 and L = 30 s on a fresh worker with 1,000 LLM slots (`worker`'s
 * other settings kept): all 1,000 calls in flight at once.
 */
export const fanOutInFlight1000 = (b: Bench, label: string, worker: Partial<WorkerConfig> = {}, layout?: Layout) =>
  b.fanOut({ label, n: 1000, k: 1000, latency: L_INFLIGHT, worker: { ...worker, maxConcurrent: 1000, fresh: true }, timeoutMs: 300_000, layout });

/** Median wall of the runs that succeeded, with min–max when there are several: "1.66 s (1.60 s–1.70 s)". */
export const wallRange = (xs: Measured[]) => {
  const ok = xs.filter((m) => !m.error).map((m) => m.wallMs);
  if (!ok.length) return `failed: ${xs[0]?.error ?? '?'}`;
  const med = median(ok);
  return ok.length > 1 ? `${ms(med)} (${ms(Math.min(...ok))}–${ms(Math.max(...ok))})` : ms(med);
};

/** Median wall of the runs (ours or baselines) that succeeded. */
export const medWall = (xs: { wallMs: number; error?: string }[]) => median(xs.filter((x) => !x.error && Number.isFinite(x.wallMs)).map((x) => x.wallMs));

/** The "foreign CPU" column: share of the 2 cores other people's processes used during the runs. */
export const foreign = (xs: { cpu: { foreign: number; elapsed: number } }[]) => {
  const f = xs.reduce((s, x) => s + x.cpu.foreign, 0);
  const e = xs.reduce((s, x) => s + x.cpu.elapsed, 0);
  return e > 0 ? `${pct(f / e / 2)}` : '—';
};

/** All frontend RPCs in a run's dev server counters. */
export const frontendRpcs = (server: Record<string, number>) =>
  Object.entries(server)
    .filter(([k]) => k.startsWith('frontend:'))
    .reduce((a, [, v]) => a + v, 0);

/** Median per task of a dev server counter ('frontend:<Operation>', 'persistence', or 'frontend' for all frontend RPCs). */
export const perTask = (xs: Measured[], key: string, n: number) => {
  const vals = xs.filter((m) => m.server && Object.keys(m.server).length).map((m) => (key === 'frontend' ? frontendRpcs(m.server!) : (m.server![key] ?? 0)) / n);
  return vals.length ? median(vals) : NaN;
};

/** Failed or timed-out workflow tasks per run: "0, 1, 8". */
export const wftFails = (xs: Measured[]) => xs.map((m) => (m.wft ? String(m.wft.failed + m.wft.timedOut) : '?')).join(', ');

/** The frontend RPCs of a run per task, largest first: "RecordActivityTaskHeartbeat 1.0, ...". */
export const rpcBreakdown = (m: Measured | undefined, n: number) =>
  m?.server
    ? Object.entries(m.server)
        .filter(([k]) => k.startsWith('frontend:'))
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, v]) => `${k.slice('frontend:'.length)} ${num(v / n, 2)}`)
        .join(', ')
    : '—';

/** Activities started eagerly in the runs' root histories: "100/100 (0 ms)" (median scheduled → started in brackets), per run. */
export const eagerShare = (xs: Measured[]) => xs.map((m) => (m.dispatch ? `${m.dispatch.eager}/${m.dispatch.activities} (${ms(m.dispatch.medianGapMs)})` : '?')).join(', ');
