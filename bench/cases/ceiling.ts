/** Case `ceiling`: the orchestration ceiling at L = 0 (tasks/s, CPU per task) and worker memory with 1,000 calls in flight (3b). */
import { median, mb, ms, num, verdict, type Cell, type TableData } from '../lib/format';
import { type Measured } from '../lib/measure';
import { type CaseDef, DEFAULT_WORKER, perTask, fanOutInFlight1000, foreign, L0, medWall, reps, type Target, wallRange, wftFails } from './common';
import { runPoint } from './points';

/** Issue 15's target for the L = 0 ceiling through fanOut on this 2-core machine. */
const CEILING_TARGET = 400;

export const ceiling: CaseDef = {
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
      dag.push(
        await b.measure({
          label: `runDag ${dagN} independent nodes k=${k} L=0 #${i + 1}`,
          worker: DEFAULT_WORKER,
          latency: L0,
          type: 'runDag',
          input: { name: 'bench-wide', nodes, maxConcurrent: k },
        }),
      );
    }
    const extra: { label: string; runs: Measured[]; n: number; k: number; note: string }[] = [];
    if (!b.quick) {
      // Four fanOut workflows at once, 250 tasks each: how much of the ceiling is per-workflow serialisation.
      const sharded: Measured[] = [];
      for (let i = 0; i < reps(b); i++)
        sharded.push(await b.parallelFanOuts({ label: `4 × fanOut(250) at once, k=50 each, L=0 #${i + 1}`, shards: 4, n: 1000, k: 50, latency: L0, worker: DEFAULT_WORKER }));
      extra.push({ label: '4 fanOut workflows at once (250 each, k=50)', runs: sharded, n: 1000, k: 200, note: 'same 1000 tasks split over 4 workflows' });
    }
    const tps = (ms_: { wallMs: number; error?: string }[], count: number) => count / (medWall(ms_) / 1000);
    const cpuPerTask = (ms_: Measured[], count: number) => {
      const ok = ms_.filter((m) => !m.error);
      const t = median(ok.map((m) => (m.cpu.temporal * 1000) / count));
      const w = median(ok.map((m) => (m.cpu.worker * 1000) / count));
      return `${num(t, 1)} / ${num(w, 1)} ms`;
    };
    const polls = (ms_: Measured[], count: number) => num(perTask(ms_, 'frontend:PollActivityTaskQueue', count), 2);
    const fanTps = tps(p.ours, n);
    const met = Number.isFinite(fanTps) ? fanTps >= CEILING_TARGET : undefined;
    const rows: Cell[][] = [
      [
        `fanOut, split (CLI routing)`,
        n,
        k,
        wallRange(p.ours),
        num(fanTps),
        mb(Math.max(...p.ours.map((m) => m.rssPeakMb))),
        cpuPerTask(p.ours, n),
        polls(p.ours, n),
        wftFails(p.ours),
        `≥ ${CEILING_TARGET} tasks/s: ${verdict(met)}`,
        foreign(p.ours),
      ],
      ...[...p.alt.entries()].map(([label, runs]) => {
        const t = tps(runs, n);
        return [
          `fanOut, ${label}`,
          n,
          k,
          wallRange(runs),
          num(t),
          mb(Math.max(...runs.map((m) => m.rssPeakMb))),
          cpuPerTask(runs, n),
          polls(runs, n),
          wftFails(runs),
          `≥ ${CEILING_TARGET} tasks/s: ${verdict(Number.isFinite(t) ? t >= CEILING_TARGET : undefined)}`,
          foreign(runs),
        ];
      }),
      [
        `runDag (${dagN} independent nodes)`,
        dagN,
        k,
        wallRange(dag),
        num(tps(dag, dagN)),
        mb(Math.max(...dag.map((m) => m.rssPeakMb))),
        cpuPerTask(dag, dagN),
        polls(dag, dagN),
        wftFails(dag),
        '—',
        foreign(dag),
      ],
      ...extra.map((e) => [
        e.label,
        e.n,
        e.k,
        wallRange(e.runs),
        num(tps(e.runs, e.n)),
        mb(Math.max(...e.runs.map((m) => m.rssPeakMb))),
        cpuPerTask(e.runs, e.n),
        polls(e.runs, e.n),
        '—',
        '—',
        foreign(e.runs),
      ]),
      ['in-process Promise.all (the ceiling)', n, k, ms(medWall(p.inProcess)), num(tps(p.inProcess, n)), '—', '—', '—', '—', '—', foreign(p.inProcess)],
    ];
    const tables: TableData[] = [
      {
        title: ceiling.title,
        head: [
          'runner',
          'tasks',
          'k',
          'wall',
          'tasks/s',
          'worker peak RSS',
          'CPU per task: Temporal server / worker',
          'activity polls / task (eager: ~0)',
          'failed workflow tasks per run',
          'target',
          'foreign CPU',
        ],
        rows,
        notes: [
          'L = 0: the LLM server answers at once, so the wall clock is pure orchestration; on this 2-core machine the dev server, the worker and the LLM server share the cores.',
          'CPU per task = CPU seconds of the process during the run / tasks (the worker figure includes its Rust core threads).',
        ],
      },
    ];
    const targets: Target[] = [
      { case: 'ceiling', target: `L = 0: ≥ ${CEILING_TARGET} tasks/s through fanOut, split (CLI routing)`, measured: `${num(fanTps)} tasks/s (N=${n}, k=${k})`, met },
      ...[...p.alt.entries()].map(([label, runs]) => {
        const t = tps(runs, n);
        return {
          case: 'ceiling',
          target: `L = 0: ≥ ${CEILING_TARGET} tasks/s through fanOut, ${label}`,
          measured: `${num(t)} tasks/s (N=${n}, k=${k})`,
          met: Number.isFinite(t) ? t >= CEILING_TARGET : undefined,
        };
      }),
    ];
    let rss1000: Measured | undefined;
    if (!b.quick) {
      // RSS with 1,000 calls in flight: a long L so that all 1,000 are in flight at once.
      rss1000 = await fanOutInFlight1000(b, 'fanOut N=1000 k=1000 L=30 s (1,000 in flight)');
      // More calls in flight only add memory: over 400 MB with fewer than 1,000 in flight is a miss too.
      const rssMet = rss1000.error ? undefined : rss1000.rssPeakMb > 400 ? false : rss1000.llm.maxInFlight >= 1000 ? true : undefined;
      tables.push({
        title: '3b. Worker memory with 1,000 LLM calls in flight (fanOut N=1000, k=1000, LLM_MAX_CONCURRENT=1000, L = 30 s)',
        head: ['calls in flight (LLM server max)', 'all 1,000 dispatched after', 'worker RSS before', 'worker peak RSS', 'wall', 'target', 'foreign CPU'],
        rows: [
          [
            rss1000.llm.maxInFlight,
            ms(rss1000.llm.lastArrivalMs),
            mb(b.lastWorkerStartRssMb),
            mb(rss1000.rssPeakMb),
            ms(rss1000.wallMs),
            `≤ 400 MB: ${verdict(rssMet)}`,
            foreign([rss1000]),
          ],
        ],
        notes: [
          '"worker RSS before" = after start and warm-up, before the run (fresh worker process).',
          'While 1,000 calls wait on the model, each heartbeats (first at once, then at most every 2 s: maxHeartbeatThrottleInterval in src/worker/create-workers.ts), i.e. up to 500 heartbeat RPCs/s to the server, which compete with dispatching the rest.',
        ],
      });
      targets.push({
        case: 'ceiling',
        target: 'worker RSS with 1,000 calls in flight ≤ 400 MB',
        measured: `${mb(rss1000.rssPeakMb)} peak (${rss1000.llm.maxInFlight} in flight at most)`,
        met: rssMet,
      });
    }
    return { tables, targets, data: { fanOut: p.ours, alt: Object.fromEntries(p.alt), runDag: dag, inProcess: p.inProcess, extra, rss1000 } };
  },
};
