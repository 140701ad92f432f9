/** Case `dag`: runDag's critical-path-first schedule on the real server against simulateSchedule's FIFO. */
import { simulateSchedule } from '../lib/dag-sim';
import { median, ms, pct, ratio, verdict, type Cell } from '../lib/format';
import { type Latency } from '../lib/llm-admin';
import { type Measured } from '../lib/measure';
import { type CaseDef, DEFAULT_WORKER, medWall, reps, wallRange } from './common';

export const dag: CaseDef = {
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
      runs.push(
        await b.measure({ label: `runDag skewed #${i + 1}`, worker: DEFAULT_WORKER, latency, faults, type: 'runDag', input: { name: 'bench-skewed', nodes, maxConcurrent: k } }),
      );
    }
    const nominal = (n: { id: string }) => (n.id.startsWith('c') ? CHAIN_MS : SHORT_MS);
    const chainFirst = [...nodes.slice(shorts), ...nodes.slice(0, shorts)];
    const sim = (order: 'critical-path' | 'fifo', list = nodes, d: (n: { id: string }) => number = nominal) =>
      simulateSchedule(list, { maxConcurrent: k, durations: d, order }).makespan;
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
      [
        "runDag on the real server (critical-path-first: the workflow's behaviour)",
        'measured, client wall (workflow own wall)',
        `${wallRange(runs)} (${ms(wfWall)})`,
        pct(1 - wall / fifoMeasured),
      ],
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
      targets: [
        {
          case: 'dag',
          target: 'critical-path makespan ≥ 20% shorter than FIFO',
          measured: `${ms(wall)} vs FIFO ${ms(fifoMeasured)}: ${pct(1 - wall / fifoMeasured)} shorter`,
          met,
        },
      ],
      data: {
        runs,
        simulated: { cpMeasured: sim('critical-path', nodes, md), fifoMeasured, cpNominal: sim('critical-path'), fifoNominal, fifoChainFirst: sim('fifo', chainFirst) },
        idealMs: ideal,
        lowerBoundMs: lowerBound,
      },
    };
  },
};
