/** Case `tuning`: worker variants (bench/worker-variant.ts) on four points and with 1,000 calls in flight (8a). */
import { type WorkerConfig } from '../lib/env';
import { median, mb, ms, num, pct, type Cell, type TableData } from '../lib/format';
import { type Latency } from '../lib/llm-admin';
import { type Measured } from '../lib/measure';
import { type CaseDef, fanOutInFlight1000, foreign, L0, L1, L3, medWall, perTask, wftFails } from './common';

/** Variants of the worker for the tuning case: the shipped one and bench-only changes. */
const VARIANTS: { name: string; worker: WorkerConfig }[] = [
  { name: 'the shipped worker (dist/src/worker/main.js)', worker: { maxConcurrent: 200 } },
  {
    name: 'activity pollers 100 (maxConcurrentActivityTaskPolls; default min(10, slots))',
    worker: { maxConcurrent: 200, variant: { llm: { maxConcurrentActivityTaskPolls: 100 } } },
  },
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

export const tuning: CaseDef = {
  id: 'tuning',
  title: '8. Where the overhead goes: worker variants (bench/worker-variant.ts: the real worker entry, dist/src/worker/main.js, with other Worker options)',
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
      cells.push(
        `${num(perTask(heavy, 'frontend:RecordActivityTaskHeartbeat', 1000), 2)} / ${num(perTask(byPoint.get('N=200 k=200 L=3 s')!, 'frontend:RecordActivityTaskHeartbeat', 200), 2)}`,
      );
      cells.push(num(perTask(heavy, 'persistence', 1000), 1));
      cells.push(wftFails(byPoint.get('N=1000 k=200 L=1 s')!));
      cells.push(foreign(all));
      rows.push(cells);
    }
    const tables: TableData[] = [
      {
        title: tuning.title,
        head: [
          'worker variant',
          ...points.map((p) => p.id),
          'peak RSS',
          'CPU Temporal / worker (N=1000 L=1 s)',
          'heartbeat RPCs / task (L=1 s / L=3 s)',
          'persistence ops / task (N=1000 L=1 s)',
          'failed workflow tasks (N=1000 L=1 s, per run)',
          'foreign CPU',
        ],
        rows,
        notes: [
          `median of ${rounds} interleaved rounds; each variant's worker process is restarted every round; (±x%) is the change against the shipped worker.`,
          "These runs use the split layout: the LLM activities run on their own task queue, so eager activity dispatch (which only works on the workflow's queue) never applies and every call is a matching round trip. Cases overhead and ceiling measure the single-queue layout beside it.",
        ],
      },
    ];
    // 1,000 calls in flight: heartbeat load and memory, for the variants that should matter there.
    const inflight: Cell[][] = [];
    const inflightData: Record<string, Measured> = {};
    for (const v of INFLIGHT_VARIANTS) {
      const m = await fanOutInFlight1000(b, `[${v.name}] N=1000 k=1000 L=30 s`, v.worker);
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
