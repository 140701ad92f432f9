/** Case `hedging`: LLM_HEDGE off and on against a heavy-tailed provider. */
import { type WorkerConfig } from '../lib/env';
import { ms, pct, quantile, type Cell } from '../lib/format';
import { type Latency } from '../lib/llm-admin';
import { promptTasks } from '../lib/tasks';
import { type CaseDef } from './common';

/** Heavy tail: 300 ms calls, 5 % of requests (independently, seeded) ten times slower. */
export const hedging: CaseDef = {
  id: 'hedging',
  title: '10. Hedging against a heavy-tailed provider: 5 % of requests 10× slower (L = 300 ms, slow 3 s), fanOut N=200, k=50',
  inQuick: false,
  async run(b) {
    const latency: Latency = { ttftMs: 300, perTokenMs: 0, outputTokens: 5 };
    const faults = [{ probability: 0.05, fault: { kind: 'latency' as const, ttftMs: 3000 } }];
    const input = { tasks: promptTasks(200, (i) => `heavy tail task ${i}`), maxConcurrent: 50 };
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
      const d = (m.results ?? []).map((r) => r.durationMs);
      const q = (p: number) => quantile(d, p);
      rows.push([label, ms(m.wallMs), ms(q(0.5)), ms(q(0.95)), ms(q(0.99)), ms(q(1)), `${m.llm.calls} (${pct((m.llm.calls - 200) / 200)} extra)`]);
      data[label] = m;
    }
    return {
      tables: [
        {
          title: hedging.title,
          head: ['variant', 'wall', 'task p50', 'task p95', 'task p99', 'task max', 'LLM requests'],
          rows,
          notes: [
            'task latency = what the workflow waited for each call (for a hedged call, from its first request to the winning reply).',
            'The warm-up run of the same shape is not shown.',
          ],
        },
      ],
      targets: [],
      data,
    };
  },
};
