/** Case `baselines`: every point of the run (bench/cases/points.ts) beside the in-process and Python baselines. */
import { ms, ratio, type Cell } from '../lib/format';
import { type CaseDef, medWall, wallRange } from './common';
import { OVERHEAD_NS, runOverheadPoint } from './points';

export const baselines: CaseDef = {
  id: 'baselines',
  title: '7. Baselines side by side: same machine, same LLM server process, same N, k and L, same bench run',
  inQuick: true,
  async run(b, shared) {
    if (![...shared.points.values()].some((p) => p.inProcess.length)) {
      // Run on its own (--only baselines): the points of the overhead case.
      for (const n of b.quick ? [100] : OVERHEAD_NS) await runOverheadPoint(b, shared, n);
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
          head: [
            'N',
            'k',
            'L',
            'ours: fanOut on Temporal',
            'in-process Promise.all (TS SDK)',
            'seed design: Python asyncio',
            'ours / in-process',
            'ours / python',
            'python / in-process',
          ],
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
