/**
 * Unit tests of the bench's DAG scheduling simulator (pure code: no server, no workflow).
 */
import { simulateSchedule } from '../../bench/lib/dag-sim';
import { idealMakespan, type GraphNode } from '../../src/core/dag';

/** Builds nodes from `id: deps` pairs, so graphs read like adjacency lists. */
function graph(spec: Record<string, string[]>): (GraphNode & { prompt: string })[] {
  return Object.entries(spec).map(([id, dependsOn]) => ({ id, prompt: `do ${id}`, dependsOn }));
}

// A chain of 6 one-unit nodes plus 10 independent one-unit nodes listed before it.
const skewed = [
  ...Array.from({ length: 10 }, (_, i) => ({ id: `solo${i}`, prompt: 'p' })),
  ...Array.from({ length: 6 }, (_, i) => ({ id: `chain${i}`, prompt: 'p', dependsOn: i ? [`chain${i - 1}`] : [] })),
];

describe('simulateSchedule', () => {
  const unit = () => 1;

  it('finishes a skewed DAG at least 20% sooner critical-path-first than FIFO', () => {
    const fifo = simulateSchedule(skewed, { maxConcurrent: 2, durations: unit, order: 'fifo' });
    const cp = simulateSchedule(skewed, { maxConcurrent: 2, durations: unit, order: 'critical-path' });
    // FIFO runs the 10 solo nodes first (5 units), then the chain alone (6 units).
    expect(fifo.makespan).toBe(11);
    expect(fifo.startOrder.slice(0, 2)).toEqual(['solo0', 'solo1']);
    expect(fifo.starts.chain0).toBe(5);
    // Critical-path-first runs the chain beside the solo nodes: 16 units on 2 slots.
    expect(cp.makespan).toBe(8);
    expect(cp.startOrder[0]).toBe('chain0');
    expect(cp.starts).toMatchObject({ chain0: 0, chain5: 5 });
    expect(cp.makespan).toBeLessThanOrEqual(fifo.makespan * 0.8);
  });

  it('gives the same makespan where order does not matter', () => {
    const independent = Array.from({ length: 7 }, (_, i) => ({ id: `n${i}` }));
    const chain = graph({ a: [], b: ['a'], c: ['b'] });
    for (const [nodes, maxConcurrent, expected] of [
      [independent, 3, 3],
      [chain, 2, 3],
      [skewed, 16, 6],
    ] as const) {
      const fifo = simulateSchedule(nodes, { maxConcurrent, durations: unit, order: 'fifo' });
      const cp = simulateSchedule(nodes, { maxConcurrent, durations: unit, order: 'critical-path' });
      expect(fifo.makespan).toBe(expected);
      expect(cp.makespan).toBe(expected);
    }
  });

  it('reaches the ideal makespan with unlimited slots, honouring dependencies', () => {
    const nodes = graph({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'] });
    const durations = (n: GraphNode) => ({ a: 2, b: 3, c: 7, d: 1 })[n.id]!;
    const s = simulateSchedule(nodes, { maxConcurrent: Infinity, durations, order: 'fifo' });
    expect(s.makespan).toBe(idealMakespan(nodes, durations));
    expect(s.starts).toEqual({ a: 0, b: 2, c: 2, d: 9 });
    expect(s.startOrder).toEqual(['a', 'b', 'c', 'd']);
  });

  it('rejects a bad slot count and cycles', () => {
    expect(() => simulateSchedule(skewed, { maxConcurrent: 0, durations: unit, order: 'fifo' })).toThrow(RangeError);
    expect(() => simulateSchedule(graph({ a: ['b'], b: ['a'] }), { maxConcurrent: 1, durations: unit, order: 'fifo' })).toThrow('cycle: a → b → a');
  });

  it('is empty for no nodes', () => {
    expect(simulateSchedule([], { maxConcurrent: 1, durations: unit, order: 'critical-path' })).toEqual({ makespan: 0, startOrder: [], starts: {} });
  });
});
