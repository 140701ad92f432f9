/**
 * The points `N/k/L` that cases `overhead`, `ceiling` and `baselines` share: our fanOut and the
 * in-process and Python baselines run interleaved at a point, and are kept in `Shared.points` so
 * that `baselines` shows every point of the run side by side.
 */
import { callMs, type Latency } from '../lib/llm-admin';
import { type Bench } from '../lib/measure';
import { ensurePythonBaseline } from '../lib/python';
import { L1, reps, type Shared } from './common';

const pointKey = (n: number, k: number, l: Latency) => `${n}/${k}/${callMs(l)}`;

/** Python interpreter for the asyncio baseline, or why there is none (asked once per bench run). */
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
export async function runPoint(b: Bench, shared: Shared, o: { n: number; k: number; latency: Latency; python: boolean; repeat?: number }) {
  const key = pointKey(o.n, o.k, o.latency);
  let p = shared.points.get(key);
  if (!p) {
    p = { n: o.n, k: o.k, latencyMs: callMs(o.latency), ours: [], alt: new Map(), inProcess: [], python: [] };
    shared.points.set(key, p);
  }
  const python = o.python ? await pythonFor(b, shared) : undefined;
  const worker = { maxConcurrent: Math.max(200, o.k) };
  for (let i = 0; i < (o.repeat ?? reps(b)); i++) {
    p.ours.push(await b.fanOut({ label: `fanOut N=${o.n} k=${o.k} L=${callMs(o.latency)} ms #${i + 1}`, n: o.n, k: o.k, latency: o.latency, worker }));
    for (const r of shared.runners) {
      const runs = p.alt.get(r.label) ?? [];
      p.alt.set(r.label, runs);
      runs.push(
        await b.fanOut({
          label: `[${r.label}] fanOut N=${o.n} k=${o.k} L=${callMs(o.latency)} ms #${i + 1}`,
          n: o.n,
          k: o.k,
          latency: o.latency,
          layout: r.layout,
          worker: { ...worker, ...(r.variant ? { variant: r.variant } : {}), ...(r.nodeArgs ? { nodeArgs: r.nodeArgs } : {}) },
        }),
      );
    }
    p.inProcess.push(await b.baseline('in-process', { n: o.n, k: o.k, latency: o.latency }));
    if (python) p.python.push(await b.baseline('python', { n: o.n, k: o.k, latency: o.latency, python }));
  }
  return p;
}

/** N of the points of case `overhead` in a full run. */
export const OVERHEAD_NS = [12, 100, 1000];

/** A point of case `overhead`: N independent tasks at L = 1 s, k = min(N, 200), with the Python baseline unless --quick. */
export const runOverheadPoint = (b: Bench, shared: Shared, n: number) => runPoint(b, shared, { n, k: Math.min(n, 200), latency: L1, python: !b.quick });
