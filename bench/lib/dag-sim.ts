/**
 * A list-scheduling simulator of DAG runs, for the bench: how long a DAG takes on so many slots
 * when free slots start ready nodes critical-path-first (as runDag does) or first-come-first-served.
 */
import { indexGraph, priorityRanks, topoIndices, weightsOf, type GraphNode } from '../../src/core/dag/graph';
import { Heap } from '../../src/core/dag/heap';

/** Options of simulateSchedule. */
export interface SimulateOptions<N extends GraphNode = GraphNode> {
  /** Slots; a whole number >= 1, or Infinity for no limit. */
  maxConcurrent: number;
  durations: (node: N) => number;
  /** 'critical-path': by priorityRanks (weighted by durations); 'fifo': by readiness, then input position. */
  order: 'critical-path' | 'fifo';
}

/** Outcome of simulateSchedule. */
export interface SimulatedSchedule {
  makespan: number;
  startOrder: string[];
  starts: Record<string, number>;
}

/** Simulates list scheduling (free slots take the best ready node) to compare start orders. */
export function simulateSchedule<N extends GraphNode>(nodes: readonly N[], options: SimulateOptions<N>): SimulatedSchedule {
  const { maxConcurrent, durations, order } = options;
  if (!(maxConcurrent >= 1) || (!Number.isInteger(maxConcurrent) && maxConcurrent !== Infinity)) {
    throw new RangeError(`maxConcurrent must be a whole number >= 1, got ${maxConcurrent}`);
  }
  const g = indexGraph(nodes);
  topoIndices(g); // throws on a cycle rather than simulating a deadlock
  const duration = weightsOf(g, durations);
  const readyAt = new Array<number>(g.ids.length).fill(0);
  let ready: Heap<number>;
  if (order === 'critical-path') {
    const ranks = priorityRanks(nodes, durations);
    const rank = g.ids.map((id) => ranks.get(id)!);
    ready = new Heap((a, b) => rank[a] - rank[b]);
  } else {
    ready = new Heap((a, b) => readyAt[a] - readyAt[b] || a - b);
  }
  const finish = new Array<number>(g.ids.length).fill(0);
  let seq = 0;
  const startSeq = new Array<number>(g.ids.length).fill(0);
  const running = new Heap<number>((a, b) => finish[a] - finish[b] || startSeq[a] - startSeq[b]);
  const indegree = g.deps.map((d) => d.length);
  indegree.forEach((d, i) => d === 0 && ready.push(i));
  const startOrder: string[] = [];
  const starts: [string, number][] = [];
  let now = 0;
  let makespan = 0;
  while (ready.size || running.size) {
    while (running.size < maxConcurrent && ready.size) {
      const v = ready.pop();
      startSeq[v] = seq++;
      finish[v] = now + duration[v];
      startOrder.push(g.ids[v]);
      starts.push([g.ids[v], now]);
      running.push(v);
    }
    // Finish everything due at the next event time together, so nodes readied by the same
    // moment compete on equal terms (FIFO then falls back to input position).
    now = finish[running.peek()];
    makespan = Math.max(makespan, now);
    while (running.size && finish[running.peek()] === now) {
      const v = running.pop();
      for (const d of g.dependents[v]) {
        if (--indegree[d] === 0) {
          readyAt[d] = now;
          ready.push(d);
        }
      }
    }
  }
  // fromEntries defines own properties, so an id like "__proto__" is stored, not swallowed.
  return { makespan, startOrder, starts: Object.fromEntries(starts) };
}
