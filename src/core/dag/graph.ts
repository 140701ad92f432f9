/**
 * Graph algorithms of DAG runs over anything with an id and `dependsOn`: dependency order,
 * dependents, levels, critical path and start priorities, cycle detection.
 * Pure and deterministic: bundled into workflow code, so no Node built-ins, clocks, randomness
 * or I/O. Every tie is broken by id with plain code-unit comparison (never localeCompare, whose
 * order depends on the host's ICU data), so a replay always makes the same choices.
 */
import { InvalidInputError, duplicates } from '../tasks';
import { Heap } from './heap';

/** The part of a node that the graph functions read, so they also work on other node shapes. */
export interface GraphNode {
  id: string;
  dependsOn?: readonly string[];
  estimatedMs?: number;
}

/** Weight of a node on a path (e.g. its expected duration). */
export type NodeWeight<N extends GraphNode = GraphNode> = (node: N) => number;

const defaultWeight = (n: GraphNode): number => n.estimatedMs ?? 1;

// ---------------------------------------------------------------------------------------------
// Graph index: nodes by position, edges as sorted, de-duplicated index lists. Exported for
// validation (spec.ts) and the bench's scheduling simulator; index.ts does not re-export it.

/** Nodes indexed by position. */
export interface Graph<N extends GraphNode = GraphNode> {
  nodes: readonly N[];
  ids: string[];
  indexOf: Map<string, number>;
  /** deps[i]: positions of the nodes that node i depends on, sorted by id. */
  deps: number[][];
  /** dependents[i]: positions of the nodes that depend on node i, sorted by id. */
  dependents: number[][];
}

/** Plain code-unit order of ids (never localeCompare). */
export const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Indexes nodes; throws InvalidInputError on duplicate ids or unknown deps. */
export function indexGraph<N extends GraphNode>(nodes: readonly N[]): Graph<N> {
  const ids = nodes.map((n) => n.id);
  const dupIds = duplicates(ids);
  if (dupIds.length) throw new InvalidInputError(`Invalid DAG spec: duplicate node ids: ${dupIds.join(', ')}`);
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  const cmp = (a: number, b: number) => byId(ids[a], ids[b]);
  const deps = nodes.map((n) =>
    [...new Set(n.dependsOn ?? [])]
      .map((d) => {
        const j = indexOf.get(d);
        if (j === undefined) throw new InvalidInputError(`Invalid DAG spec: node "${n.id}" depends on unknown node "${d}"`);
        return j;
      })
      .sort(cmp),
  );
  const dependents: number[][] = nodes.map(() => []);
  deps.forEach((ds, i) => ds.forEach((d) => dependents[d].push(i)));
  dependents.forEach((ds) => ds.sort(cmp));
  return { nodes, ids, indexOf, deps, dependents };
}

/**
 * Every distinct cycle a depth-first search meets, following `dependsOn` edges from the smallest
 * id, each rotated to start (and end) at its smallest id. Iterative: deep chains must not
 * overflow the workflow's stack.
 */
export function findCycles(g: Graph): string[][] {
  const n = g.ids.length;
  const order = [...g.ids.keys()].sort((a, b) => byId(g.ids[a], g.ids[b]));
  const state = new Uint8Array(n); // 0 unvisited, 1 on the current path, 2 done
  const pathPos = new Int32Array(n).fill(-1);
  const seen = new Set<string>();
  const cycles: string[][] = [];
  for (const root of order) {
    if (state[root]) continue;
    const path = [root];
    const next = [0];
    state[root] = 1;
    pathPos[root] = 0;
    while (path.length) {
      const top = path.length - 1;
      const v = path[top];
      if (next[top] < g.deps[v].length) {
        const w = g.deps[v][next[top]++];
        if (state[w] === 0) {
          state[w] = 1;
          pathPos[w] = path.length;
          path.push(w);
          next.push(0);
        } else if (state[w] === 1) {
          const cycle = path.slice(pathPos[w]).map((i) => g.ids[i]);
          const start = cycle.indexOf(cycle.reduce((m, id) => (id < m ? id : m)));
          const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
          const key = rotated.join('\u0000');
          if (!seen.has(key)) {
            seen.add(key);
            cycles.push([...rotated, rotated[0]]);
          }
        }
      } else {
        state[v] = 2;
        pathPos[v] = -1;
        path.pop();
        next.pop();
      }
    }
  }
  return cycles;
}

/** Kahn's algorithm over positions; ties go to the smallest id. Throws on a cycle. */
export function topoIndices(g: Graph): number[] {
  const indegree = g.deps.map((d) => d.length);
  const ready = new Heap<number>((a, b) => byId(g.ids[a], g.ids[b]));
  indegree.forEach((d, i) => d === 0 && ready.push(i));
  const order: number[] = [];
  while (ready.size) {
    const v = ready.pop();
    order.push(v);
    for (const w of g.dependents[v]) if (--indegree[w] === 0) ready.push(w);
  }
  if (order.length < g.ids.length) {
    const [cycle] = findCycles(g);
    throw new InvalidInputError(`Invalid DAG spec: cycle: ${cycle.join(' → ')}`);
  }
  return order;
}

/** Weights by position; a NaN or negative weight would silently corrupt every path length. */
export function weightsOf<N extends GraphNode>(g: Graph<N>, weight: NodeWeight<N>): number[] {
  return g.nodes.map((n) => {
    const w = weight(n);
    if (!Number.isFinite(w) || w < 0) throw new RangeError(`weight of node "${n.id}" must be a finite number >= 0, got ${w}`);
    return w;
  });
}

/** Bottom levels by position: own weight plus the heaviest path below. */
function bottomLevels(g: Graph, order: number[], w: number[]): number[] {
  const bl = new Array<number>(g.ids.length).fill(0);
  for (let k = order.length - 1; k >= 0; k--) {
    const v = order[k];
    let below = 0;
    for (const d of g.dependents[v]) if (bl[d] > below) below = bl[d];
    bl[v] = w[v] + below;
  }
  return bl;
}

// ---------------------------------------------------------------------------------------------
// Public graph functions. They throw InvalidInputError on duplicate ids, unknown deps or cycles.

/** Node ids in dependency order (Kahn's algorithm, ties by id); throws on a cycle. */
export function topologicalOrder(nodes: readonly GraphNode[]): string[] {
  const g = indexGraph(nodes);
  return topoIndices(g).map((i) => g.ids[i]);
}

/** Direct dependents of every node (sorted ids), keyed in input order. */
export function dependents(nodes: readonly GraphNode[]): Map<string, string[]> {
  const g = indexGraph(nodes);
  return new Map(g.ids.map((id, i) => [id, g.dependents[i].map((d) => g.ids[d])]));
}

/** Every node that depends on `id`, directly or not (sorted): what a failure of `id` skips. */
export function transitiveDependents(nodes: readonly GraphNode[], id: string): string[] {
  const g = indexGraph(nodes);
  const start = g.indexOf.get(id);
  if (start === undefined) throw new InvalidInputError(`Invalid DAG spec: unknown node "${id}"`);
  const seen = new Set<number>([start]);
  const stack = [start];
  while (stack.length) {
    for (const d of g.dependents[stack.pop()!]) {
      if (!seen.has(d)) {
        seen.add(d);
        stack.push(d);
      }
    }
  }
  seen.delete(start);
  return [...seen].map((i) => g.ids[i]).sort(byId);
}

/** Heaviest path from a source to a sink (weight default `estimatedMs ?? 1`); ties: lexicographically smallest path. */
export function criticalPath<N extends GraphNode>(nodes: readonly N[], weight: NodeWeight<N> = defaultWeight): { path: string[]; length: number } {
  const g = indexGraph(nodes);
  const order = topoIndices(g);
  const bl = bottomLevels(g, order, weightsOf(g, weight));
  // Among equally heavy choices the first id differs, so the smallest id yields the smallest path.
  const best = (candidates: number[]): number | undefined =>
    candidates.reduce<number | undefined>((b, c) => (b === undefined || bl[c] > bl[b] || (bl[c] === bl[b] && g.ids[c] < g.ids[b]) ? c : b), undefined);
  let v = best([...g.ids.keys()].filter((i) => g.deps[i].length === 0));
  if (v === undefined) return { path: [], length: 0 };
  const length = bl[v];
  const path: string[] = [];
  while (v !== undefined) {
    path.push(g.ids[v]);
    v = best(g.dependents[v]);
  }
  return { path, length };
}

/** Ideal makespan with unlimited slots: the critical path's length. */
export function idealMakespan<N extends GraphNode>(nodes: readonly N[], weight: NodeWeight<N> = defaultWeight): number {
  return criticalPath(nodes, weight).length;
}

/** Per node, the heaviest path from it to a sink, own weight included (its "bottom level"). */
export function remainingPathLengths<N extends GraphNode>(nodes: readonly N[], weight: NodeWeight<N> = defaultWeight): Map<string, number> {
  const g = indexGraph(nodes);
  const bl = bottomLevels(g, topoIndices(g), weightsOf(g, weight));
  return new Map(g.ids.map((id, i) => [id, bl[i]]));
}

/**
 * Start priority per node, 0..n-1 (lower starts first): longest remaining path first, then id.
 * Starting the node with the most work behind it first is the classic list-scheduling heuristic
 * that keeps a long chain from being started last.
 */
export function priorityRanks<N extends GraphNode>(nodes: readonly N[], weight: NodeWeight<N> = defaultWeight): Map<string, number> {
  const remaining = remainingPathLengths(nodes, weight);
  const sorted = [...remaining.keys()].sort((a, b) => remaining.get(b)! - remaining.get(a)! || byId(a, b));
  const rank = new Map(sorted.map((id, r) => [id, r]));
  return new Map(nodes.map((n) => [n.id, rank.get(n.id)!]));
}

/** Depth of every node: sources are 0, others one more than their deepest dependency. */
export function levels(nodes: readonly GraphNode[]): Map<string, number> {
  const g = indexGraph(nodes);
  const level = new Array<number>(g.ids.length).fill(0);
  for (const v of topoIndices(g)) for (const d of g.deps[v]) level[v] = Math.max(level[v], level[d] + 1);
  return new Map(g.ids.map((id, i) => [id, level[i]]));
}
