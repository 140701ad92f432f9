/**
 * The bench cases. Each one measures (never asserts) and returns tables, the targets it reports
 * against, and its raw data for the results JSON.
 */
import fs from 'node:fs';
import path from 'node:path';
import { simulateSchedule } from '../src/core/dag';
import { summariseProfiles, type ThreadSummary } from './lib/cpuprofile';
import { type WorkerConfig } from './lib/env';
import { median, mb, ms, num, pct, ratio, verdict, type Cell, type TableData } from './lib/format';
import { arrivalsPerWindow, callMs, type Latency } from './lib/llm-admin';
import { type Bench, type BaselineRun, type Measured, type WfResult } from './lib/measure';
import { ensurePythonBaseline } from './lib/python';
import { histories } from './lib/runwf';
import { fleet } from './fleet';

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
  /** Our fanOut runs and the baselines, per point `N/k/L`. */
  points: Map<string, { n: number; k: number; latencyMs: number; ours: Measured[]; inProcess: BaselineRun[]; python: BaselineRun[] }>;
  python?: { bin?: string; unavailable?: string };
}

export interface CaseDef {
  id: string;
  title: string;
  inQuick: boolean;
  run(b: Bench, shared: Shared): Promise<CaseResult>;
}

/** L = 1 s with a short reply: ttft 1000 ms, 20 tokens at 0 ms/token. */
const L1: Latency = { ttftMs: 1000, perTokenMs: 0, outputTokens: 20 };
/** L = 0. */
const L0: Latency = { ttftMs: 0, perTokenMs: 0, outputTokens: 5 };
/** Long calls, so that 1,000 are in flight at once. */
const L_INFLIGHT: Latency = { ttftMs: 30_000, perTokenMs: 0, outputTokens: 20 };
/** The seed's L = 3 s: ttft 1000 ms + 250 tokens × 8 ms. */
const L3: Latency = { ttftMs: 1000, perTokenMs: 8, outputTokens: 250 };

const DEFAULT_WORKER: WorkerConfig = { maxConcurrent: 200 };

const reps = (b: Bench) => (b.quick ? 1 : 3);
const wallRange = (xs: Measured[]) => {
  const ok = xs.filter((m) => !m.error).map((m) => m.wallMs);
  if (!ok.length) return `failed: ${xs[0]?.error ?? '?'}`;
  const med = median(ok);
  return ok.length > 1 ? `${ms(med)} (${ms(Math.min(...ok))}–${ms(Math.max(...ok))})` : ms(med);
};
const medWall = (xs: { wallMs: number; error?: string }[]) => median(xs.filter((x) => !x.error && Number.isFinite(x.wallMs)).map((x) => x.wallMs));
const foreign = (xs: { cpu: { foreign: number; elapsed: number } }[]) => {
  const f = xs.reduce((s, x) => s + x.cpu.foreign, 0);
  const e = xs.reduce((s, x) => s + x.cpu.elapsed, 0);
  return e > 0 ? `${pct(f / e / 2)}` : '—';
};
const pointKey = (n: number, k: number, l: Latency) => `${n}/${k}/${callMs(l)}`;
/** Median per task of a dev server counter ('frontend:<Operation>', 'persistence', or 'frontend' for all frontend RPCs). */
const perTask = (xs: Measured[], key: string, n: number) => {
  const vals = xs
    .filter((m) => m.server && Object.keys(m.server).length)
    .map((m) => (key === 'frontend' ? Object.entries(m.server!).filter(([k]) => k.startsWith('frontend:')).reduce((a, [, v]) => a + v, 0) : (m.server![key] ?? 0)) / n);
  return vals.length ? median(vals) : NaN;
};
/** Failed or timed-out workflow tasks per run: "0, 1, 8". */
const wftFails = (xs: Measured[]) => xs.map((m) => (m.wft ? String(m.wft.failed + m.wft.timedOut) : '?')).join(', ');

/** The frontend RPCs of a run per task, largest first: "RecordActivityTaskHeartbeat 1.0, ...". */
const rpcBreakdown = (m: Measured | undefined, n: number) =>
  m?.server
    ? Object.entries(m.server)
        .filter(([k]) => k.startsWith('frontend:'))
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, v]) => `${k.slice('frontend:'.length)} ${num(v / n, 2)}`)
        .join(', ')
    : '—';

/** Python interpreter for the asyncio baseline, or why there is none. */
async function pythonFor(b: Bench, shared: Shared): Promise<string | undefined> {
  if (!shared.python) {
    try {
      shared.python = { bin: await ensurePythonBaseline(b.log) };
    } catch (err) {
      shared.python = { unavailable: `python baseline unavailable: ${err instanceof Error ? err.message : String(err)}` };
      b.log(`  ${shared.python.unavailable}`);
    }
  }
  return shared.python.bin;
}

/** Our fanOut at a point plus the baselines, interleaved per repetition so load drift hits all alike. */
async function runPoint(b: Bench, shared: Shared, o: { n: number; k: number; latency: Latency; python: boolean; repeat?: number }) {
  const key = pointKey(o.n, o.k, o.latency);
  let p = shared.points.get(key);
  if (!p) {
    p = { n: o.n, k: o.k, latencyMs: callMs(o.latency), ours: [], inProcess: [], python: [] };
    shared.points.set(key, p);
  }
  const python = o.python ? await pythonFor(b, shared) : undefined;
  for (let i = 0; i < (o.repeat ?? reps(b)); i++) {
    p.ours.push(await b.fanOut({ label: `fanOut N=${o.n} k=${o.k} L=${callMs(o.latency)} ms #${i + 1}`, n: o.n, k: o.k, latency: o.latency, worker: { maxConcurrent: Math.max(200, o.k) } }));
    p.inProcess.push(await b.baseline('in-process', { n: o.n, k: o.k, latency: o.latency }));
    if (python) p.python.push(await b.baseline('python', { n: o.n, k: o.k, latency: o.latency, python }));
  }
  return p;
}

// ---------------------------------------------------------------------------------------------

const seed: CaseDef = {
  id: 'seed',
  title: '1. Seed headline: competitiveIntel, 12 companies, L = 3 s (ttft 1000 ms + 250 tokens × 8 ms)',
  inQuick: false,
  async run(b) {
    type Intel = WfResult & { stats: { idealMakespanMs: number } };
    const seq = await b.measure<Intel>({ label: 'competitiveIntel sequential (maxConcurrent 1)', worker: DEFAULT_WORKER, latency: L3, type: 'competitiveIntel', input: { maxConcurrent: 1 }, timeoutMs: 600_000 });
    const par: (Measured & { result?: Intel })[] = [];
    for (let i = 0; i < reps(b); i++) {
      par.push(await b.measure<Intel>({ label: `competitiveIntel parallel (default) #${i + 1}`, worker: DEFAULT_WORKER, latency: L3, type: 'competitiveIntel', input: {}, timeoutMs: 300_000 }));
    }
    const parWall = medWall(par);
    const ideal = median(par.filter((m) => m.stats?.idealMakespanMs).map((m) => m.stats!.idealMakespanMs!));
    const row = (name: string, ms_: Measured[], wall: number): Cell[] => {
      const m = ms_[0];
      const idealOf = median(ms_.filter((x) => x.stats?.idealMakespanMs).map((x) => x.stats!.idealMakespanMs!));
      return [
        name,
        m?.stats ? `${m.stats.succeeded}/${m.stats.total}` : (m?.error ?? '—'),
        wallRange(ms_),
        ms(median(ms_.filter((x) => x.stats).map((x) => x.stats!.sumDurationMs))),
        ratio(seqWall / wall, 1),
        ratio(median(ms_.filter((x) => x.stats).map((x) => x.stats!.sumDurationMs / x.wallMs)), 1),
        ms(idealOf),
        ratio(wall / idealOf),
        mb(Math.max(...ms_.map((x) => x.rssPeakMb))),
        foreign(ms_),
      ];
    };
    const seqWall = seq.error ? NaN : seq.wallMs;
    const met = Number.isFinite(parWall / ideal) ? parWall <= 1.05 * ideal : undefined;
    return {
      tables: [
        {
          title: seed.title,
          head: ['mode', 'calls ok', 'wall', 'sum of call durations', 'speedup vs sequential', 'sum / wall', 'ideal (critical path)', 'wall / ideal', 'worker peak RSS', 'foreign CPU'],
          rows: [row('sequential (maxConcurrent 1)', [seq], seqWall), [...row('parallel (default)', par, parWall)]],
          notes: [
            'target: parallel wall ≤ 1.05 × ideal (ideal = stats.idealMakespanMs, the critical path over the measured call durations: research → analyze → summary).',
            `parallel: ${verdict(met)} (${ratio(parWall / ideal)}); wall is client-observed (start request → result, report.md written); the workflow's own wall clock: ${ms(median(par.filter((m) => m.wfWallMs).map((m) => m.wfWallMs!)))}.`,
            'foreign CPU: share of the 2 cores used by processes that are not the bench\'s during the runs (other people\'s builds/tests): noise.',
          ],
        },
      ],
      targets: [{ case: 'seed', target: '12-company wall ≤ 1.05 × ideal', measured: `${ms(parWall)} vs ideal ${ms(ideal)} = ${ratio(parWall / ideal)}`, met }],
      data: { sequential: seq, parallel: par },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const overhead: CaseDef = {
  id: 'overhead',
  title: '2. Overhead: N independent tasks through fanOut at L = 1 s, k = min(N, 200), vs ideal ⌈N/k⌉ × L and the baselines',
  inQuick: true,
  async run(b, shared) {
    const points = b.quick ? [12, 100] : [12, 100, 1000];
    const rows: Cell[][] = [];
    const targets: Target[] = [];
    const data: unknown[] = [];
    const timeline: Cell[][] = [];
    const rpcNotes: string[] = [];
    for (const n of points) {
      const k = Math.min(n, 200);
      const p = await runPoint(b, shared, { n, k, latency: L1, python: !b.quick });
      const ok = p.ours.filter((m) => !m.error && m.llm.firstArrivalMs !== undefined);
      const med = (f: (m: Measured) => number) => ms(median(ok.map(f)));
      timeline.push([
        n,
        k,
        med((m) => m.llm.firstArrivalMs!),
        med((m) => m.llm.lastArrivalMs! - m.llm.firstArrivalMs!),
        n > k ? '(waves overlap)' : med((m) => m.llm.lastFinishMs! - m.llm.lastArrivalMs!),
        med((m) => m.wallMs - m.llm.lastFinishMs!),
        med((m) => m.wallMs - (m.wfWallMs ?? NaN)),
        num(perTask(p.ours, 'frontend', n), 1),
        num(perTask(p.ours, 'frontend:RecordActivityTaskHeartbeat', n), 2),
        num(perTask(p.ours, 'persistence', n), 1),
        wftFails(p.ours),
      ]);
      rpcNotes.push(`N=${n}, frontend RPCs per task: ${rpcBreakdown(p.ours[0], n)}`);
      const wall = medWall(p.ours);
      const ideal = Math.ceil(n / k) * callMs(L1);
      const inproc = medWall(p.inProcess);
      const py = medWall(p.python);
      const limit = n === 100 ? 1.1 : n === 1000 ? 1.2 : undefined;
      const met = limit !== undefined && Number.isFinite(wall / inproc) ? wall <= limit * inproc : undefined;
      rows.push([
        n,
        k,
        ms(ideal),
        wallRange(p.ours),
        ms(median(p.ours.filter((m) => m.wfWallMs).map((m) => m.wfWallMs!))),
        ms(inproc),
        p.python.length ? ms(py) : (shared.python?.unavailable ? 'unavailable' : '—'),
        pct(ideal / wall),
        ms((wall - ideal) / n),
        ms((wall - inproc) / n),
        ratio(wall / inproc),
        limit ? `≤ ${limit}× in-process: ${verdict(met)}` : '—',
        foreign(p.ours),
      ]);
      if (limit) targets.push({ case: 'overhead', target: `N=${n}, L=1 s, k=${k}: wall ≤ ${limit} × in-process`, measured: `${ms(wall)} vs ${ms(inproc)} = ${ratio(wall / inproc)}`, met });
      data.push({ n, k, idealMs: ideal, ours: p.ours, inProcess: p.inProcess, python: p.python });
    }
    return {
      tables: [
        {
          title: overhead.title,
          head: ['N', 'k', 'ideal', 'wall (median, min–max)', 'workflow own wall', 'in-process', 'python asyncio', 'efficiency ideal/wall', 'overhead/task vs ideal', 'overhead/task vs in-process', 'ours / in-process', 'target', 'foreign CPU'],
          rows,
          notes: [
            'L = ttft 1000 ms, 20 output tokens, 0 ms/token; the worker runs with LLM_MAX_CONCURRENT = 200 (≥ k).',
            'overhead/task = (wall − reference) / N. Baselines run against the same LLM server process, interleaved with our runs.',
            ...(shared.python?.unavailable ? [shared.python.unavailable] : []),
          ],
        },
        {
          title: '2b. Where the time goes (medians, from the LLM server\'s request records and the client clock)',
          head: ['N', 'k', 'start → first LLM request', 'first → last request starts (dispatch spread)', 'last request start → last reply', 'last reply → result at the client', 'client wall − workflow own wall', 'server RPCs / task', 'heartbeat RPCs / task', 'persistence ops / task', 'failed workflow tasks per run'],
          rows: timeline,
          notes: [
            ...rpcNotes,
            'start → first request: start RPC, first workflow task, scheduling every activity, matching, activity poll. Dispatch spread: the server hands the scheduled activities to the worker\'s pollers one at a time.',
            'last reply → result: activity completion RPC, the workflow task that completes the run, and the client\'s result long-poll.',
            'failed workflow tasks: WORKFLOW_TASK_FAILED/TIMED_OUT events in the run\'s history; FORCE_CLOSE_COMMAND = the server failed an in-flight workflow task because more than history.maximumBufferedEventsBatch (default 100) events (activity completions) arrived meanwhile; the worker then replays the history.',
          ],
        },
      ],
      targets,
      data,
    };
  },
};

// ---------------------------------------------------------------------------------------------

const ceiling: CaseDef = {
  id: 'ceiling',
  title: '3. Orchestration ceiling at L = 0: tasks/s through fanOut and runDag, peak worker RSS, vs the in-process ceiling',
  inQuick: true,
  async run(b, shared) {
    const n = b.quick ? 200 : 1000;
    const k = 200;
    const dagN = b.quick ? 100 : 500;
    const p = await runPoint(b, shared, { n, k, latency: L0, python: false });
    const dag: Measured[] = [];
    for (let i = 0; i < reps(b); i++) {
      const nodes = Array.from({ length: dagN }, (_, j) => ({ id: `n${j + 1}`, prompt: `Bench DAG node ${j + 1} of ${dagN}.` }));
      dag.push(await b.measure({ label: `runDag ${dagN} independent nodes k=${k} L=0 #${i + 1}`, worker: DEFAULT_WORKER, latency: L0, type: 'runDag', input: { name: 'bench-wide', nodes, maxConcurrent: k } }));
    }
    const extra: { label: string; runs: Measured[]; n: number; k: number; note: string }[] = [];
    if (!b.quick) {
      // Four fanOut workflows at once, 250 tasks each: how much of the ceiling is per-workflow serialisation.
      const sharded: Measured[] = [];
      for (let i = 0; i < reps(b); i++) sharded.push(await b.parallelFanOuts({ label: `4 × fanOut(250) at once, k=50 each, L=0 #${i + 1}`, shards: 4, n: 1000, k: 50, latency: L0, worker: DEFAULT_WORKER }));
      extra.push({ label: '4 fanOut workflows at once (250 each, k=50)', runs: sharded, n: 1000, k: 200, note: 'same 1000 tasks split over 4 workflows' });
    }
    const tps = (ms_: { wallMs: number; error?: string }[], count: number) => count / (medWall(ms_) / 1000);
    const cpuPerTask = (ms_: Measured[], count: number) => {
      const ok = ms_.filter((m) => !m.error);
      const t = median(ok.map((m) => (m.cpu.temporal * 1000) / count));
      const w = median(ok.map((m) => (m.cpu.worker * 1000) / count));
      return `${num(t, 1)} / ${num(w, 1)} ms`;
    };
    const fanTps = tps(p.ours, n);
    const met = Number.isFinite(fanTps) ? fanTps >= 200 : undefined;
    const rows: Cell[][] = [
      [`fanOut`, n, k, wallRange(p.ours), num(fanTps), mb(Math.max(...p.ours.map((m) => m.rssPeakMb))), cpuPerTask(p.ours, n), wftFails(p.ours), `≥ 200 tasks/s: ${verdict(met)}`, foreign(p.ours)],
      [`runDag (${dagN} independent nodes)`, dagN, k, wallRange(dag), num(tps(dag, dagN)), mb(Math.max(...dag.map((m) => m.rssPeakMb))), cpuPerTask(dag, dagN), wftFails(dag), '—', foreign(dag)],
      ...extra.map((e) => [e.label, e.n, e.k, wallRange(e.runs), num(tps(e.runs, e.n)), mb(Math.max(...e.runs.map((m) => m.rssPeakMb))), cpuPerTask(e.runs, e.n), '—', '—', foreign(e.runs)]),
      ['in-process Promise.all (the ceiling)', n, k, ms(medWall(p.inProcess)), num(tps(p.inProcess, n)), '—', '—', '—', '—', foreign(p.inProcess)],
    ];
    const tables: TableData[] = [
      {
        title: ceiling.title,
        head: ['runner', 'tasks', 'k', 'wall', 'tasks/s', 'worker peak RSS', 'CPU per task: Temporal server / worker', 'failed workflow tasks per run', 'target', 'foreign CPU'],
        rows,
        notes: [
          'L = 0: the LLM server answers at once, so the wall clock is pure orchestration; on this 2-core machine the dev server, the worker and the LLM server share the cores.',
          'CPU per task = CPU seconds of the process during the run / tasks (the worker figure includes its Rust core threads).',
        ],
      },
    ];
    const targets: Target[] = [{ case: 'ceiling', target: 'L = 0: ≥ 200 tasks/s through fanOut', measured: `${num(fanTps)} tasks/s (N=${n}, k=${k})`, met }];
    let rss1000: Measured | undefined;
    if (!b.quick) {
      // RSS with 1,000 calls in flight: a long L so that all 1,000 are in flight at once.
      rss1000 = await b.fanOut({ label: 'fanOut N=1000 k=1000 L=30 s (1,000 in flight)', n: 1000, k: 1000, latency: L_INFLIGHT, worker: { maxConcurrent: 1000, fresh: true }, timeoutMs: 300_000 });
      // More calls in flight only add memory: over 400 MB with fewer than 1,000 in flight is a miss too.
      const rssMet = rss1000.error ? undefined : rss1000.rssPeakMb > 400 ? false : rss1000.llm.maxInFlight >= 1000 ? true : undefined;
      tables.push({
        title: '3b. Worker memory with 1,000 LLM calls in flight (fanOut N=1000, k=1000, LLM_MAX_CONCURRENT=1000, L = 30 s)',
        head: ['calls in flight (LLM server max)', 'all 1,000 dispatched after', 'worker RSS before', 'worker peak RSS', 'wall', 'target', 'foreign CPU'],
        rows: [[rss1000.llm.maxInFlight, ms(rss1000.llm.lastArrivalMs), mb(b.lastWorkerStartRssMb), mb(rss1000.rssPeakMb), ms(rss1000.wallMs), `≤ 400 MB: ${verdict(rssMet)}`, foreign([rss1000])]],
        notes: [
          '"worker RSS before" = after start and warm-up, before the run (fresh worker process).',
          'While 1,000 calls wait on the model, each heartbeats (first at once, then at most every 2 s: maxHeartbeatThrottleInterval in src/worker/create-workers.ts), i.e. up to 500 heartbeat RPCs/s to the server, which compete with dispatching the rest.',
        ],
      });
      targets.push({ case: 'ceiling', target: 'worker RSS with 1,000 calls in flight ≤ 400 MB', measured: `${mb(rss1000.rssPeakMb)} peak (${rss1000.llm.maxInFlight} in flight at most)`, met: rssMet });
    }
    return { tables, targets, data: { fanOut: p.ours, runDag: dag, inProcess: p.inProcess, extra, rss1000 } };
  },
};

// ---------------------------------------------------------------------------------------------

const scale: CaseDef = {
  id: 'scale',
  title: '4. Scale: one fanOut of 10,000 tasks (k = 200, L = 100 ms)',
  inQuick: false,
  async run(b) {
    const n = 10_000;
    const k = 200;
    const latency: Latency = { ttftMs: 100, perTokenMs: 0, outputTokens: 5 };
    const m = await b.fanOut({ label: `fanOut N=${n} k=${k} L=100 ms`, n, k, latency, worker: { maxConcurrent: 200, fresh: true }, timeoutMs: 30 * 60_000 });
    const hs = await histories(b.env.client, m.workflowId);
    const largest = hs.reduce<(typeof hs)[number] | undefined>((a, h) => (!a || h.historyLength > a.historyLength ? h : a), undefined);
    const LIMIT_EVENTS = 51_200;
    const LIMIT_BYTES = 50 * 1024 * 1024;
    const within = hs.length > 0 && hs.every((h) => h.historyLength <= LIMIT_EVENTS && (h.historySize ?? 0) <= LIMIT_BYTES);
    const completed = !m.error && m.stats?.succeeded === n;
    const met = completed && within;
    const statuses = [...new Set(hs.map((h) => h.status))].join(', ');
    return {
      tables: [
        {
          title: scale.title,
          head: ['tasks', 'outcome', 'succeeded', 'wall', 'tasks/s', 'workflows in the run', 'largest history (events)', 'largest history (bytes)', 'worker peak RSS', 'LLM calls', 'target', 'foreign CPU'],
          rows: [
            [
              n,
              m.error ? `ERROR: ${m.error}` : 'completed',
              m.stats ? m.stats.succeeded : '—',
              ms(m.wallMs),
              m.error ? '—' : num(n / (m.wallMs / 1000)),
              `${hs.length} (${statuses || '?'})`,
              largest ? `${largest.historyLength} (${largest.type} ${largest.workflowId === m.workflowId ? 'root' : largest.workflowId})` : '—',
              largest?.historySize ? mb(largest.historySize / 1024 / 1024) : '—',
              mb(m.rssPeakMb),
              m.llm.calls,
              `complete, every history ≤ ${LIMIT_EVENTS} events / 50 MB: ${verdict(met)}`,
              foreign([m]),
            ],
          ],
          notes: [
            'Histories: every execution whose id starts with the run\'s id (child workflows included), lengths from describe(). Limits are Temporal\'s defaults (history count error 51,200 events, size 50 MB; warnings at 10,240 events / 10 MB).',
          ],
        },
      ],
      targets: [{ case: 'scale', target: '10,000 tasks complete, every history within limits', measured: `${m.error ? `failed: ${m.error}` : `completed in ${ms(m.wallMs)}`}; largest history ${largest?.historyLength ?? '?'} events`, met }],
      data: { run: m, histories: hs },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const limits: CaseDef = {
  id: 'limits',
  title: '5. Limits hold under load: concurrency caps and the requests-per-minute limit, as the LLM server saw them',
  inQuick: true,
  async run(b) {
    const n = b.quick ? 100 : 200;
    const lHalf: Latency = { ttftMs: 500, perTokenMs: 0, outputTokens: 20 };
    const a = await b.fanOut({ label: `workflow maxConcurrent 50 (worker 200), N=${n}`, n, k: 50, latency: lHalf, worker: DEFAULT_WORKER });
    // A fanOut big enough to shard into child workflows must keep the same overall cap.
    const shardN = 3000;
    const shardK = 50;
    const sh = await b.probeFanOut({ label: `sharded fanOut N=${shardN} k=${shardK}`, n: shardN, k: shardK, latency: { ttftMs: 4000, perTokenMs: 0, outputTokens: 5 }, worker: DEFAULT_WORKER, observeMs: 3000 });
    const capS = sh.maxInFlight <= shardK;
    const c = await b.fanOut({ label: `worker LLM_MAX_CONCURRENT=50 (workflow k=200), N=${n}`, n, k: 200, latency: lHalf, worker: { maxConcurrent: 50 } });
    // 600 requests per minute, scaled to a 1 s window so the case stays short: LLM_RPM=10 per
    // LLM_LIMIT_WINDOW_MS=1000, held by the llmLimiter workflow and smoothed by the server's rate.
    const rpm = 600;
    const perSec = rpm / 60;
    const nr = b.quick ? 40 : 80;
    const r = await b.fanOut({
      label: `LLM_RPM=${perSec} per 1 s window (= ${rpm}/min), N=${nr}`,
      n: nr,
      k: nr,
      latency: { ttftMs: 100, perTokenMs: 0, outputTokens: 5 },
      worker: { maxConcurrent: 200, rpm: perSec, extraEnv: { LLM_LIMIT_WINDOW_MS: '1000' } },
      keepArrivals: true,
    });
    const w = arrivalsPerWindow(r.arrivals ?? [], 1000);
    const span = r.arrivals?.length ? (Math.max(...r.arrivals) - Math.min(...r.arrivals)) / 1000 : NaN;
    const rate = r.arrivals && span > 0 ? (r.arrivals.length - 1) / span : NaN;
    const capA = a.error ? undefined : a.llm.maxInFlight <= 50;
    const capC = c.error ? undefined : c.llm.maxInFlight <= 50;
    const rpmMet = r.error ? undefined : w.sliding <= perSec;
    return {
      tables: [
        {
          title: limits.title,
          head: ['limit', 'run', 'measured', 'limit value', 'check', 'wall'],
          rows: [
            ['workflow maxConcurrent', `fanOut N=${n}, k=50, L=500 ms`, `max ${a.llm.maxInFlight} in flight (${a.llm.calls} calls)`, '≤ 50', verdict(capA), ms(a.wallMs)],
            ['worker LLM_MAX_CONCURRENT', `fanOut N=${n}, k=200, L=500 ms`, `max ${c.llm.maxInFlight} in flight (${c.llm.calls} calls)`, '≤ 50', verdict(capC), ms(c.wallMs)],
            [
              'workflow maxConcurrent, sharded run',
              `fanOut N=${shardN} (${sh.workflows - 1} child workflows), k=${shardK}, L=4 s, first 3 s`,
              `max ${sh.maxInFlight} in flight (${sh.calls} calls)`,
              `≤ ${shardK}`,
              verdict(capS),
              'terminated after 3 s',
            ],
            [
              `LLM_RPM=${rpm}`,
              `fanOut N=${nr}, k=${nr}, L=100 ms`,
              `max ${w.sliding} in any 1 s window (sliding), ${w.tumbling} in a fixed 1 s window; mean ${num(rate, 1)}/s over ${num(span, 1)} s`,
              `≤ ${perSec} per 1 s`,
              verdict(rpmMet),
              ms(r.wallMs),
            ],
          ],
          notes: [
            `arrivals per fixed 1 s window (from the first request): ${w.windows.join(' ')}`,
            'LLM_RPM is held per window by the llmLimiter workflow (shared by all workers) and also sets maxTaskQueueActivitiesPerSecond (the server-side token bucket, which alone lets a first-second burst through).',
          ],
        },
      ],
      targets: [
        {
          case: 'limits',
          target: 'maxConcurrent 50: LLM server maxInFlight ≤ 50',
          measured: `workflow cap: ${a.llm.maxInFlight}, worker cap: ${c.llm.maxInFlight}, sharded N=${shardN}: ${sh.maxInFlight}`,
          met: capA === undefined || capC === undefined ? undefined : capA && capC && capS,
        },
        { case: 'limits', target: `LLM_RPM=${rpm}: ≤ ${perSec} requests in any 1 s window`, measured: `max ${w.sliding} (sliding), ${w.tumbling} (fixed windows)`, met: rpmMet },
      ],
      data: { workflowCap: a, workerCap: c, sharded: sh, rpm: { run: r, windows: w, meanRate: rate } },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const dag: CaseDef = {
  id: 'dag',
  title: '6. DAG scheduling: a 6-node chain (1 s each) + 24 independent short nodes (0.5 s each), maxConcurrent 4',
  inQuick: true,
  async run(b) {
    const chain = 6;
    const shorts = 24;
    const k = 4;
    const CHAIN_MS = 1000;
    const SHORT_MS = 500;
    // The chain is listed last: the order in which FIFO (by readiness, then input position) hurts most.
    const nodes = [
      ...Array.from({ length: shorts }, (_, i) => ({ id: `s${String(i + 1).padStart(2, '0')}`, prompt: `Short independent item ${i + 1}.`, estimatedMs: SHORT_MS })),
      ...Array.from({ length: chain }, (_, i) => ({
        id: `c${i + 1}`,
        prompt: i === 0 ? 'CHAIN step 1: start the long analysis.' : `CHAIN step ${i + 1}: continue from {{c${i}}}`,
        dependsOn: i === 0 ? [] : [`c${i}`],
        estimatedMs: CHAIN_MS,
      })),
    ];
    const latency: Latency = { ttftMs: SHORT_MS, perTokenMs: 0, outputTokens: 20 };
    const faults = [{ match: 'CHAIN step', fault: { kind: 'latency', ttftMs: CHAIN_MS, perTokenMs: 0, outputTokens: 20 } }];
    const runs: Measured[] = [];
    for (let i = 0; i < reps(b); i++) {
      runs.push(await b.measure({ label: `runDag skewed #${i + 1}`, worker: DEFAULT_WORKER, latency, faults, type: 'runDag', input: { name: 'bench-skewed', nodes, maxConcurrent: k } }));
    }
    const nominal = (n: { id: string }) => (n.id.startsWith('c') ? CHAIN_MS : SHORT_MS);
    const chainFirst = [...nodes.slice(shorts), ...nodes.slice(0, shorts)];
    const sim = (order: 'critical-path' | 'fifo', list = nodes, d: (n: { id: string }) => number = nominal) => simulateSchedule(list, { maxConcurrent: k, durations: d, order }).makespan;
    // "Same durations": each node's measured LLM call time (median over the runs).
    const ok = runs.filter((r) => !r.error && r.results);
    const measuredDur = new Map<string, number>();
    for (const n of nodes) {
      const ds = ok.map((r) => r.results!.find((x) => x.taskId === n.id)?.durationMs ?? nominal(n));
      measuredDur.set(n.id, ds.length ? median(ds) : nominal(n));
    }
    const md = (n: { id: string }) => measuredDur.get(n.id) ?? nominal(n);
    const wall = medWall(runs);
    const wfWall = median(ok.map((r) => r.wfWallMs!));
    const ideal = median(ok.map((r) => r.stats!.idealMakespanMs!));
    const fifoMeasured = sim('fifo', nodes, md);
    const fifoNominal = sim('fifo');
    const lowerBound = Math.max(chain * CHAIN_MS, (chain * CHAIN_MS + shorts * SHORT_MS) / k);
    const met = Number.isFinite(wall) ? wall <= 0.8 * fifoMeasured : undefined;
    const rows: Cell[][] = [
      ['runDag on the real server (critical-path-first: the workflow\'s behaviour)', 'measured, client wall (workflow own wall)', `${wallRange(runs)} (${ms(wfWall)})`, pct(1 - wall / fifoMeasured)],
      ['simulateSchedule critical-path', 'measured call durations', ms(sim('critical-path', nodes, md)), pct(1 - sim('critical-path', nodes, md) / fifoMeasured)],
      ['simulateSchedule FIFO (chain listed last, as run)', 'measured call durations', ms(fifoMeasured), '0%'],
      ['simulateSchedule critical-path', 'nominal 1 s / 0.5 s', ms(sim('critical-path')), pct(1 - sim('critical-path') / fifoNominal)],
      ['simulateSchedule FIFO (chain listed last)', 'nominal', ms(fifoNominal), '0%'],
      ['simulateSchedule FIFO (chain listed first)', 'nominal', ms(sim('fifo', chainFirst)), pct(1 - sim('fifo', chainFirst) / fifoNominal)],
      ['ideal: critical path (stats.idealMakespanMs)', 'measured call durations', ms(ideal), '—'],
      ['lower bound max(critical path, work / k)', 'nominal', ms(lowerBound), '—'],
    ];
    return {
      tables: [
        {
          title: dag.title,
          head: ['schedule', 'durations', 'makespan', 'shorter than FIFO by'],
          rows,
          notes: [
            'Node durations come from per-prompt latency faults on the LLM server (chain prompts 1000 ms, others 500 ms); nodes carry estimatedMs so ranks use the same weights.',
            `target: critical-path makespan (measured run, client wall) ≥ 20% shorter than FIFO (simulated with the measured durations): ${verdict(met)} (${pct(1 - wall / fifoMeasured)}).`,
            `the measured run over its own simulation: ${ratio(wall / sim('critical-path', nodes, md))}, i.e. ≈ ${ms((wall - sim('critical-path', nodes, md)) / chain)} of orchestration per step of the critical path.`,
          ],
        },
      ],
      targets: [{ case: 'dag', target: 'critical-path makespan ≥ 20% shorter than FIFO', measured: `${ms(wall)} vs FIFO ${ms(fifoMeasured)}: ${pct(1 - wall / fifoMeasured)} shorter`, met }],
      data: { runs, simulated: { cpMeasured: sim('critical-path', nodes, md), fifoMeasured, cpNominal: sim('critical-path'), fifoNominal, fifoChainFirst: sim('fifo', chainFirst) }, idealMs: ideal, lowerBoundMs: lowerBound },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const baselines: CaseDef = {
  id: 'baselines',
  title: '7. Baselines side by side: same machine, same LLM server process, same N, k and L, same bench run',
  inQuick: true,
  async run(b, shared) {
    if (![...shared.points.values()].some((p) => p.inProcess.length)) {
      // Run on its own (--only baselines): the points of the overhead case.
      for (const n of b.quick ? [100] : [12, 100, 1000]) await runPoint(b, shared, { n, k: Math.min(n, 200), latency: L1, python: !b.quick });
    }
    const rows: Cell[][] = [];
    for (const p of shared.points.values()) {
      const ours = medWall(p.ours);
      const ip = medWall(p.inProcess);
      const py = medWall(p.python);
      rows.push([
        p.n,
        p.k,
        ms(p.latencyMs),
        wallRange(p.ours),
        `${ms(ip)}${p.inProcess.length > 1 ? ` (n=${p.inProcess.length})` : ''}`,
        p.python.length ? `${ms(py)}${p.python.length > 1 ? ` (n=${p.python.length})` : ''}` : (shared.python?.unavailable ?? 'not run'),
        ratio(ours / ip),
        p.python.length ? ratio(ours / py) : '—',
        p.python.length ? ratio(py / ip) : '—',
      ]);
    }
    return {
      tables: [
        {
          title: baselines.title,
          head: ['N', 'k', 'L', 'ours: fanOut on Temporal', 'in-process Promise.all (TS SDK)', 'seed design: Python asyncio', 'ours / in-process', 'ours / python', 'python / in-process'],
          rows,
          notes: [
            'in-process: bench/baselines/in-process.ts (semaphore k, RPM limiter off); python: bench/baselines/seed_asyncio.py (asyncio.gather + Semaphore(k), anthropic SDK, max_retries=0) in .tools/bench-venv. Both send one untimed warm-up request first, like the warmed-up worker.',
            ...(shared.python?.unavailable ? [shared.python.unavailable] : []),
          ],
        },
      ],
      targets: [],
      data: [...shared.points.values()].map((p) => ({ n: p.n, k: p.k, latencyMs: p.latencyMs, inProcess: p.inProcess, python: p.python })),
    };
  },
};

// ---------------------------------------------------------------------------------------------

/** Variants of the worker for the tuning case: the shipped one and bench-only changes. */
const VARIANTS: { name: string; worker: WorkerConfig }[] = [
  { name: 'src/worker/main.ts as shipped', worker: { maxConcurrent: 200 } },
  { name: 'activity pollers 100 (maxConcurrentActivityTaskPolls; default min(10, slots))', worker: { maxConcurrent: 200, variant: { llm: { maxConcurrentActivityTaskPolls: 100 } } } },
  { name: 'no immediate first heartbeat in callLlm', worker: { maxConcurrent: 200, variant: { skipFirstHeartbeat: true } } },
  { name: 'heartbeat throttle 8 s (maxHeartbeatThrottleInterval; src: 2 s)', worker: { maxConcurrent: 200, variant: { llm: { maxHeartbeatThrottleInterval: 8000 } } } },
  { name: 'MALLOC_ARENA_MAX=2 (environment only)', worker: { maxConcurrent: 200, extraEnv: { MALLOC_ARENA_MAX: '2' } } },
];

/** Variants compared with 1,000 calls in flight, where heartbeats and memory matter most. */
const INFLIGHT_VARIANTS: { name: string; worker: WorkerConfig }[] = [
  VARIANTS[0],
  { name: 'heartbeat throttle 5 s', worker: { maxConcurrent: 200, variant: { llm: { maxHeartbeatThrottleInterval: 5000 } } } },
  { name: 'heartbeat throttle 8 s', worker: { maxConcurrent: 200, variant: { llm: { maxHeartbeatThrottleInterval: 8000 } } } },
  {
    name: 'heartbeat throttle 8 s + MALLOC_ARENA_MAX=2 + --max-semi-space-size=4',
    worker: { maxConcurrent: 200, variant: { llm: { maxHeartbeatThrottleInterval: 8000 } }, extraEnv: { MALLOC_ARENA_MAX: '2' }, nodeArgs: ['--max-semi-space-size=4'] },
  },
];

const tuning: CaseDef = {
  id: 'tuning',
  title: '8. Where the overhead goes: worker variants (bench/worker-variant.ts: the real src/worker/main.ts with other Worker options)',
  inQuick: false,
  async run(b) {
    const points: { id: string; n: number; k: number; latency: Latency }[] = [
      { id: 'N=100 k=100 L=1 s', n: 100, k: 100, latency: L1 },
      { id: 'N=1000 k=200 L=1 s', n: 1000, k: 200, latency: L1 },
      { id: 'N=1000 k=200 L=0', n: 1000, k: 200, latency: L0 },
      { id: 'N=200 k=200 L=3 s', n: 200, k: 200, latency: L3 },
    ];
    const rounds = b.quick ? 1 : 2;
    const results = new Map<string, Map<string, Measured[]>>();
    for (let r = 0; r < rounds; r++) {
      for (const v of VARIANTS) {
        const byPoint = results.get(v.name) ?? new Map<string, Measured[]>();
        results.set(v.name, byPoint);
        for (const p of points) {
          const m = await b.fanOut({ label: `[${v.name}] ${p.id} #${r + 1}`, n: p.n, k: p.k, latency: p.latency, worker: { ...v.worker, fresh: p === points[0] } });
          byPoint.set(p.id, [...(byPoint.get(p.id) ?? []), m]);
        }
      }
    }
    const rows: Cell[][] = [];
    const base = results.get(VARIANTS[0].name)!;
    for (const v of VARIANTS) {
      const byPoint = results.get(v.name)!;
      const cells: Cell[] = [v.name];
      for (const p of points) {
        const w = medWall(byPoint.get(p.id)!);
        const b0 = medWall(base.get(p.id)!);
        cells.push(`${ms(w)}${v === VARIANTS[0] ? '' : ` (${w <= b0 ? '−' : '+'}${pct(Math.abs(w / b0 - 1))})`}`);
      }
      const all = [...byPoint.values()].flat();
      const heavy = byPoint.get('N=1000 k=200 L=1 s')!.filter((m) => !m.error);
      cells.push(mb(Math.max(...all.map((m) => m.rssPeakMb))));
      cells.push(`${num(median(heavy.map((m) => m.cpu.temporal)), 1)} / ${num(median(heavy.map((m) => m.cpu.worker)), 1)} s`);
      cells.push(`${num(perTask(heavy, 'frontend:RecordActivityTaskHeartbeat', 1000), 2)} / ${num(perTask(byPoint.get('N=200 k=200 L=3 s')!, 'frontend:RecordActivityTaskHeartbeat', 200), 2)}`);
      cells.push(num(perTask(heavy, 'persistence', 1000), 1));
      cells.push(wftFails(byPoint.get('N=1000 k=200 L=1 s')!));
      cells.push(foreign(all));
      rows.push(cells);
    }
    const tables: TableData[] = [
      {
        title: tuning.title,
        head: ['worker variant', ...points.map((p) => p.id), 'peak RSS', 'CPU Temporal / worker (N=1000 L=1 s)', 'heartbeat RPCs / task (L=1 s / L=3 s)', 'persistence ops / task (N=1000 L=1 s)', 'failed workflow tasks (N=1000 L=1 s, per run)', 'foreign CPU'],
        rows,
        notes: [
          `median of ${rounds} interleaved rounds; each variant's worker process is restarted every round; (±x%) is the change against the shipped worker.`,
          'The LLM activities run on their own task queue, so eager activity dispatch (which only works on the workflow\'s queue) never applies: every call is a matching round trip.',
        ],
      },
    ];
    // 1,000 calls in flight: heartbeat load and memory, for the variants that should matter there.
    const inflight: Cell[][] = [];
    const inflightData: Record<string, Measured> = {};
    for (const v of INFLIGHT_VARIANTS) {
      const m = await b.fanOut({ label: `[${v.name}] N=1000 k=1000 L=30 s`, n: 1000, k: 1000, latency: L_INFLIGHT, worker: { ...v.worker, maxConcurrent: 1000, fresh: true }, timeoutMs: 300_000 });
      inflightData[v.name] = m;
      inflight.push([
        v.name,
        m.llm.maxInFlight,
        ms(m.llm.lastArrivalMs),
        mb(b.lastWorkerStartRssMb),
        mb(m.rssPeakMb),
        `${num(m.cpu.temporal, 1)} / ${num(m.cpu.worker, 1)} s`,
        num(m.server?.['frontend:RecordActivityTaskHeartbeat'], 0),
        ms(m.wallMs),
        foreign([m]),
      ]);
    }
    tables.push({
      title: '8a. 1,000 calls in flight (fanOut N=1000, k=1000, LLM_MAX_CONCURRENT=1000, L = 30 s), one run per variant',
      head: ['worker variant', 'max in flight', 'all 1,000 dispatched after', 'RSS before', 'peak RSS', 'CPU Temporal / worker', 'heartbeat RPCs', 'wall', 'foreign CPU'],
      rows: inflight,
      notes: ['ideal wall: 30 s (all 1,000 start at once).'],
    });
    return { tables, targets: [], data: { variants: Object.fromEntries([...results].map(([k, v]) => [k, Object.fromEntries(v)])), inflight: inflightData } };
  },
};


const profile: CaseDef = {
  id: 'profile',
  title: '9. CPU profile of the shipped worker (node --cpu-prof) during fanOut N=1000, k=200, L=1 s',
  inQuick: false,
  async run(b) {
    const tables: TableData[] = [];
    // A CPU profile of the shipped worker over the N=1000, k=200, L=1 s point.
    const profDir = path.join(b.env.tmpDir, 'cpu-profile');
    fs.mkdirSync(profDir, { recursive: true });
    const prof = await b.fanOut({ label: 'profiled (node --cpu-prof) N=1000 k=200 L=1 s', n: 1000, k: 200, latency: L1, worker: { maxConcurrent: 200, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`], fresh: true } });
    await b.env.stopWorker(); // the profile is written when the worker exits
    const threads: ThreadSummary[] = summariseProfiles(profDir);
    const main = threads.find((t) => t.thread === 'main');
    const wf = threads.find((t) => t.thread === 'workflow');
    const jsMs = threads.reduce((s, t) => s + t.busyMs, 0);
    if (threads.length) {
      tables.push({
        title: profile.title,
        head: ['thread', 'busy (excl. start-up)', 'per task', 'self time by package (top 8)'],
        rows: [
          ...threads
            .filter((t) => t.busyMs > 50)
            .map((t) => [t.thread, ms(t.busyMs), `${num(t.busyMs / 1000, 2)} ms`, t.byPackage.slice(0, 8).map((p) => `${p.name} ${p.ms}`).join(', ')]),
          ['worker process total (all threads, Rust core included)', ms(prof.cpu.worker * 1000), `${num(prof.cpu.worker, 2)} ms`, `JS threads ${ms(jsMs)}; the rest (Rust core, gRPC, start-up) ${ms(prof.cpu.worker * 1000 - jsMs)}`],
          ['Temporal dev server', ms(prof.cpu.temporal * 1000), `${num(prof.cpu.temporal, 2)} ms`, ''],
        ],
        notes: [
          `inclusive hot spots: ${threads
            .flatMap((t) => t.hotspots.map((h) => `${h.name} ${ms(h.ms)} (${t.thread} thread)`))
            .join('; ')}`,
          `wall of the profiled run ${ms(prof.wallMs)} (profiling slows the worker a little); top functions, main thread: ${main?.topFunctions.slice(0, 5).map((f) => `${f.name} ${f.ms} ms`).join('; ') ?? '—'}; workflow thread: ${wf?.topFunctions.slice(0, 5).map((f) => `${f.name} ${f.ms} ms`).join('; ') ?? '—'}`,
        ],
      });
    }
    return { tables, targets: [], data: { run: prof, threads } };
  },
};


/** Heavy tail: 300 ms calls, 5 % of requests (independently, seeded) ten times slower. */
const hedging: CaseDef = {
  id: 'hedging',
  title: '10. Hedging against a heavy-tailed provider: 5 % of requests 10× slower (L = 300 ms, slow 3 s), fanOut N=200, k=50',
  inQuick: false,
  async run(b) {
    const latency: Latency = { ttftMs: 300, perTokenMs: 0, outputTokens: 5 };
    const faults = [{ probability: 0.05, fault: { kind: 'latency' as const, ttftMs: 3000 } }];
    const input = { tasks: Array.from({ length: 200 }, (_, i) => ({ name: `t${i}`, prompt: `heavy tail task ${i}` })), maxConcurrent: 50 };
    const variants: [string, WorkerConfig][] = [
      ['hedging off', { maxConcurrent: 200 }],
      ['hedging on (LLM_HEDGE=1, p95)', { maxConcurrent: 200, extraEnv: { LLM_HEDGE: '1' } }],
    ];
    const rows: Cell[][] = [];
    const data: Record<string, unknown> = {};
    for (const [label, worker] of variants) {
      // One unmeasured run of the same shape first, so the hedging tracker has learnt this latency.
      await b.measure({ label: `${label} (warm-up)`, worker, latency, faults, type: 'fanOut', input });
      const m = await b.measure({ label, worker, latency, faults, type: 'fanOut', input });
      const d = (m.results ?? []).map((r) => r.durationMs).sort((x, y) => x - y);
      const q = (p: number) => d[Math.min(d.length - 1, Math.floor(p * d.length))];
      rows.push([label, ms(m.wallMs), ms(q(0.5)), ms(q(0.95)), ms(q(0.99)), ms(d[d.length - 1]), `${m.llm.calls} (${pct((m.llm.calls - 200) / 200)} extra)`]);
      data[label] = m;
    }
    return {
      tables: [
        {
          title: hedging.title,
          head: ['variant', 'wall', 'task p50', 'task p95', 'task p99', 'task max', 'LLM requests'],
          rows,
          notes: ['task latency = what the workflow waited for each call (for a hedged call, from its first request to the winning reply).', 'The warm-up run of the same shape is not shown.'],
        },
      ],
      targets: [],
      data,
    };
  },
};

/** Flow control: shared token admission, adaptive concurrency, budgets, cache. */
const flow: CaseDef = {
  id: 'flow',
  title: '11. Flow control: token admission across a window, adaptive concurrency vs static limits, budget, cache',
  inQuick: true,
  async run(b) {
    const rows: Cell[][] = [];
    const data: Record<string, unknown> = {};
    const tasks = (n: number, pad = 0) => Array.from({ length: n }, (_, i) => ({ name: `t${i}`, prompt: `flow task ${i}. ${'x'.repeat(pad)}` }));
    const fast: Latency = { ttftMs: 200, perTokenMs: 0, outputTokens: 20 };

    // Token admission: ~50 input tokens per call, 500 per 2 s window, 60 calls in one run.
    const adm = await b.measure({
      label: 'LLM_ITPM=500 per 2 s window (a token bucket)',
      worker: { maxConcurrent: 200, extraEnv: { LLM_ITPM: '500', LLM_LIMIT_WINDOW_MS: '2000' } },
      latency: fast,
      type: 'fanOut',
      input: { tasks: tasks(60, 180), maxConcurrent: 60 },
      keepArrivals: true,
    });
    // The limit is a token bucket (as the API's): 500 tokens, refilled at 500 per 2 s. Over any
    // span of d ms the LLM server may see at most 500 + 500 × d / 2000 (+100 ms for transit).
    const reqs = [...(adm.requestTokens ?? [])].sort((a, c) => a.at - c.at);
    let excess = -Infinity;
    for (let i = 0; i < reqs.length; i++) {
      let sum = 0;
      for (let j = i; j < reqs.length; j++) {
        sum += reqs[j].input;
        excess = Math.max(excess, sum - (500 * (reqs[j].at - reqs[i].at + 100)) / 2000);
      }
    }
    rows.push(['admission: input-token bucket shared by the fleet', '60 calls × ~50 tokens, bucket 500 per 2 s', `at most ${Math.round(excess)} tokens beyond the refill over any span (bucket: 500); wall ${ms(adm.wallMs)}`, verdict(excess <= 500)]);
    data.admission = adm;

    // Flow control on by default: the provider answers 429 (retry-after 1 s) above 4 concurrent
    // calls. The configs are interleaved per repetition, each on a fresh worker (nothing learned)
    // but the "second run" ones, which run again on the worker the previous config used.
    const overload = [{ fault: { kind: 'overload' as const, maxConcurrent: 4, retryAfterS: 1 } }];
    const OFF = { LLM_FLOW_CONTROL: 'off' };
    // Flow control is per model: the warm-up of a fresh worker grows the default model's window,
    // so the cold-start rows call one it has not seen.
    const FRESH_MODEL = 'claude-haiku-4-5';
    // The shipped default (the other cases' workers start at 1000, see bench/lib/env.ts).
    const SHIPPED = { LLM_FLOW_INITIAL_CONCURRENCY: '16' };
    const configs: [string, WorkerConfig, number][] = [
      ['static k=24, flow control off (the old default)', { maxConcurrent: 200, extraEnv: OFF }, 24],
      ['default flow control (nothing configured), k=60, fresh worker', { maxConcurrent: 200, extraEnv: SHIPPED }, 60],
      ['default flow control, second run (limit learned)', { maxConcurrent: 200, extraEnv: SHIPPED }, 60],
      ['fleet limiter (LLM_ADAPTIVE_MAX=24) + default flow control, fresh', { maxConcurrent: 200, extraEnv: { ...SHIPPED, LLM_ADAPTIVE_MAX: '24' } }, 24],
      ['static k=4 (hand-tuned), flow control off', { maxConcurrent: 200, extraEnv: OFF }, 4],
    ];
    const ad: Record<string, Measured[]> = Object.fromEntries(configs.map(([l]) => [l, []]));
    for (let i = 0; i < reps(b); i++) {
      for (const [label, worker, k] of configs) {
        const w = label.includes('second run') ? worker : { ...worker, fresh: true };
        // A model the worker's warm-up did not call: flow control knows nothing about it yet.
        ad[label].push(await b.measure({ label: `${label} #${i + 1}`, worker: w, latency: { ttftMs: 500, perTokenMs: 0, outputTokens: 10 }, faults: overload, type: 'fanOut', input: { tasks: tasks(60), maxConcurrent: k, maxAttempts: 30, model: FRESH_MODEL } }));
      }
    }
    const med429 = (xs: Measured[]) => median(xs.map((m) => m.llm.throttled));
    const failed = (xs: Measured[]) => median(xs.map((m) => (m.stats as { failed?: number } | undefined)?.failed ?? NaN));
    for (const [label] of configs) {
      const xs = ad[label];
      rows.push([`concurrency: ${label}`, '60 calls, 429 above 4 in flight (retry-after 1 s), L = 500 ms', `${med429(xs)} × 429 (${xs.map((m) => m.llm.throttled).join(', ')}), ${failed(xs)} failed, wall ${wallRange(xs)}${xs.some((m) => m.error) ? `, ${xs.find((m) => m.error)!.error}` : ''}`, '']);
    }
    const [tooHigh, byDefault, learned, fleet, tuned] = configs.map(([l]) => ad[l]);
    const fewer = med429(byDefault) <= 3 * 4 + 4;
    const speed = medWall(byDefault) / medWall(tuned);
    const targets: Target[] = [
      { case: 'flow', target: 'default env: every task succeeds, 429s ≤ a small multiple of K (≤ 4K = 16)', measured: `${failed(byDefault)} failed, ${med429(byDefault)} × 429 (static k=24 without flow control: ${med429(tooHigh)}; learned: ${med429(learned)}; fleet limiter: ${med429(fleet)})`, met: fewer && failed(byDefault) === 0 },
      { case: 'flow', target: 'default env: wall ≤ 1.1 × hand-tuned static k=4', measured: `${ms(medWall(byDefault))} vs ${ms(medWall(tuned))} = ${ratio(speed)} (learned: ${ratio(medWall(learned) / medWall(tuned))})`, met: speed <= 1.1 },
    ];
    data.adaptive = ad;

    // Learned token buckets: the provider's input-token bucket (600 per 2 s window, 300/s) is far
    // smaller than the run (60 calls of ~55 tokens); nothing configured but the window's length.
    const bucketRuns: Measured[] = [];
    for (let i = 0; i < reps(b); i++) {
      bucketRuns.push(
        await b.measure({
          label: `learned input-token bucket #${i + 1}`,
          worker: { maxConcurrent: 200, extraEnv: { ...SHIPPED, LLM_LIMIT_WINDOW_MS: '2000' }, fresh: true },
          latency: { ttftMs: 200, perTokenMs: 0, outputTokens: 10 },
          rateLimits: { itpm: 600, windowMs: 2000 },
          type: 'fanOut',
          input: { tasks: tasks(60, 180), maxConcurrent: 60, maxAttempts: 2, model: FRESH_MODEL },
          keepArrivals: true,
        }),
      );
    }
    const okTokens = (m: Measured) => (m.requestTokens ?? []).reduce((n, q) => n + q.input, 0);
    const bucketIdeal = (m: Measured) => ((okTokens(m) - 600) / 300) * 1000 + 200;
    const bucketRatio = median(bucketRuns.map((m) => m.wallMs / bucketIdeal(m)));
    rows.push([
      'learned buckets: default env vs a 600-token/2 s input bucket',
      '60 calls × ~55 input tokens',
      `${med429(bucketRuns)} × 429 (${bucketRuns.map((m) => m.llm.throttled).join(', ')}), ${failed(bucketRuns)} failed, wall ${wallRange(bucketRuns)}, bucket ideal ${ms(median(bucketRuns.map(bucketIdeal)))} = ${ratio(bucketRatio)}`,
      '',
    ]);
    targets.push({ case: 'flow', target: 'learned buckets: every task succeeds, a handful of 429s, wall ≤ 1.15 × the bucket\'s ideal', measured: `${failed(bucketRuns)} failed, ${med429(bucketRuns)} × 429, ${ratio(bucketRatio)} (ideal = tokens beyond the first bucket ÷ refill + one call)`, met: failed(bucketRuns) === 0 && med429(bucketRuns) <= 16 && bucketRatio <= 1.15 });
    data.buckets = bucketRuns;

    // The cold start of the shipped default against a provider with room for everything: N = 100
    // at L = 1 s and k = 100 on a fresh worker (warmed up with 20 calls, so its window is 36),
    // against one that starts at 1000 (what the overhead case measures).
    const coldRuns: [string, Measured][] = [];
    for (const [label, initial] of [['shipped default (16, slow start)', '16'], ['LLM_FLOW_INITIAL_CONCURRENCY=1000', '1000']] as const) {
      coldRuns.push([label, await b.measure({ label: `cold start: ${label}`, worker: { maxConcurrent: 200, extraEnv: { LLM_FLOW_INITIAL_CONCURRENCY: initial }, fresh: true }, latency: { ttftMs: 1000, perTokenMs: 0, outputTokens: 20 }, type: 'fanOut', input: { tasks: tasks(100), maxConcurrent: 100 } })]);
    }
    rows.push(['cold start: N=100, L=1 s, k=100, fresh worker', coldRuns.map(([l]) => l).join(' vs '), coldRuns.map(([l, m]) => `${l}: ${ms(m.wallMs)}`).join('; '), '']);
    data.coldStart = coldRuns;

    // Budget: 40 calls of ~26 tokens, capped at 300 tokens.
    const bud = await b.measure({ label: 'budget maxTokens=300', worker: DEFAULT_WORKER, latency: fast, type: 'fanOut', input: { tasks: tasks(40), maxConcurrent: 4, budget: { maxTokens: 300 } } });
    const spent = bud.stats?.tokens ? bud.stats.tokens.input + bud.stats.tokens.output : NaN;
    const notRun = (bud.results ?? []).filter((r) => (r as { errorType?: string }).errorType === 'BudgetExceeded').length;
    rows.push(['budget: maxTokens 300, 4 in flight', '40 calls', `${bud.llm.calls} calls made, ${spent} tokens spent, ${notRun} tasks not run (BudgetExceeded)`, '']);
    data.budget = bud;

    // Cache: the same 100 calls twice with cache on.
    const cacheIn = { tasks: tasks(100), maxConcurrent: 100, cache: { ttlSeconds: 3600 } };
    const c1 = await b.measure({ label: 'cache: first run', worker: DEFAULT_WORKER, latency: { ttftMs: 1000, perTokenMs: 0, outputTokens: 20 }, type: 'fanOut', input: cacheIn });
    const c2 = await b.measure({ label: 'cache: second run', worker: DEFAULT_WORKER, latency: { ttftMs: 1000, perTokenMs: 0, outputTokens: 20 }, type: 'fanOut', input: cacheIn });
    const hits = c2.stats?.cacheHits ?? NaN;
    rows.push(['cache: 100 identical calls, run twice', 'L = 1 s', `first ${ms(c1.wallMs)} (${c1.llm.calls} calls), second ${ms(c2.wallMs)} (${c2.llm.calls} calls, ${hits} cache hits)`, '']);
    data.cache = { first: c1, second: c2 };

    return { tables: [{ title: flow.title, head: ['mechanism', 'run', 'measured', 'check'], rows, notes: ['Every figure comes from the LLM server\'s own request records or the run results; nothing is asserted.'] }], targets, data };
  },
};

export const CASES: CaseDef[] = [seed, overhead, ceiling, dag, baselines, limits, scale, tuning, profile, hedging, flow, fleet];
