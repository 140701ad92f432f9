/** Case `memory`: worker RSS with 1,000 calls in flight, for the layouts and the process-level memory settings. */
import { type WorkerConfig } from '../lib/env';
import { mb, ms, num, type Cell } from '../lib/format';
import { type Layout } from '../lib/runwf';
import { type CaseDef, fanOutInFlight1000, foreign, type Target } from './common';

/** What is compared: the shipped worker in each layout, and settings of the process that change how it holds memory. */
const VARIANTS: { name: string; layout?: Layout; worker: Partial<WorkerConfig> }[] = [
  { name: 'shipped worker, split layout', worker: {} },
  { name: 'shipped worker, local activities', layout: 'local', worker: {} },
  { name: 'MALLOC_ARENA_MAX=2', worker: { extraEnv: { MALLOC_ARENA_MAX: '2' } } },
  { name: 'node --max-semi-space-size=4', worker: { nodeArgs: ['--max-semi-space-size=4'] } },
  { name: 'MALLOC_ARENA_MAX=2 + --max-semi-space-size=4', worker: { extraEnv: { MALLOC_ARENA_MAX: '2' }, nodeArgs: ['--max-semi-space-size=4'] } },
  { name: 'local activities + MALLOC_ARENA_MAX=2', layout: 'local', worker: { extraEnv: { MALLOC_ARENA_MAX: '2' } } },
  {
    name: 'local activities + MALLOC_ARENA_MAX=2 + --max-semi-space-size=4',
    layout: 'local',
    worker: { extraEnv: { MALLOC_ARENA_MAX: '2' }, nodeArgs: ['--max-semi-space-size=4'] },
  },
];

export const memory: CaseDef = {
  id: 'memory',
  title: '3c. Worker memory with 1,000 calls in flight (fanOut N=1000, k=1000, LLM_MAX_CONCURRENT=1000, L = 30 s): layouts and process settings, one fresh worker each',
  inQuick: false,
  async run(b) {
    const rows: Cell[][] = [];
    const targets: Target[] = [];
    const data: Record<string, unknown> = {};
    for (const v of VARIANTS) {
      const m = await fanOutInFlight1000(b, `[${v.name}] N=1000 k=1000 L=30 s`, v.worker, v.layout);
      data[v.name] = m;
      rows.push([
        v.name,
        m.error ? `ERROR: ${m.error}` : m.llm.maxInFlight,
        mb(b.lastWorkerStartRssMb),
        mb(m.rssPeakMb),
        `${num(m.cpu.temporal, 1)} / ${num(m.cpu.worker, 1)} s`,
        ms(m.wallMs),
        foreign([m]),
      ]);
      // Issue 15's target, for the shipped worker in each layout (the other rows are process settings it does not ship).
      if (v.name.startsWith('shipped worker'))
        targets.push({
          case: 'memory',
          target: `worker RSS with 1,000 calls in flight ≤ 400 MB (${v.name})`,
          measured: `${mb(m.rssPeakMb)} peak (${m.llm.maxInFlight} in flight at most)`,
          met: m.error ? undefined : m.rssPeakMb > 400 ? false : m.llm.maxInFlight >= 1000 ? true : undefined,
        });
    }
    return {
      tables: [
        {
          title: memory.title,
          head: ['worker', 'max in flight', 'RSS before', 'peak RSS', 'CPU Temporal / worker', 'wall', 'foreign CPU'],
          rows,
          notes: ['ideal wall: 30 s (all 1,000 start at once). Split layout unless the row says otherwise.'],
        },
      ],
      targets,
      data,
    };
  },
};
