/**
 * Shape, validation and graph algorithms of DAG runs: nodes are LLM calls whose prompts may
 * quote the outputs of the nodes they depend on (`{{id}}`).
 * Pure and deterministic: bundled into workflow code, so no Node built-ins, clocks, randomness
 * or I/O. Every tie is broken by id with plain code-unit comparison (never localeCompare, whose
 * order depends on the host's ICU data), so a replay always makes the same choices.
 */
import { z } from 'zod';
import { InvalidInputError, MAX_CONCURRENT_LIMIT, callOptionsSchema, duplicates, formatIssues } from './tasks';

/** Allowed node ids: they appear in placeholders, messages and workflow ids, so keep them plain. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]+$/;

// Spaces inside the braces are tolerated so `{{ summary }}` is not silently left in a prompt.
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

const nonEmpty = () => z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty');

const nodeIdSchema = z
  .string({ error: 'must be a string' })
  // abort: an empty id would otherwise also be told its characters are wrong.
  .min(1, { error: 'must not be empty', abort: true })
  .regex(NODE_ID_PATTERN, 'must contain only letters, digits, "_", "." and "-"');

const maxConcurrentSchema = z
  .number({ error: 'must be a number' })
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(MAX_CONCURRENT_LIMIT, `must be at most ${MAX_CONCURRENT_LIMIT}`);

/** A document given to a tool inline. */
const documentSchema = z.object({ name: nonEmpty(), text: z.string({ error: 'must be a string' }) });

/** A tool call: runs off the LLM path, on the tools task queue (see src/activities/tools.ts). */
export const toolCallSchema = z
  .object({
    name: z.enum(['document-stats'], { error: 'must be "document-stats"' }),
    /** Local files the tools worker reads. */
    files: z.array(nonEmpty(), { error: 'must be a list of file paths' }).optional(),
    /** Documents given inline. */
    documents: z.array(documentSchema, { error: 'must be a list of {name, text}' }).optional(),
    /** How many top terms to report. */
    topTerms: z.number().int().min(1).max(1000).optional(),
  })
  .refine((t) => (t.files?.length ?? 0) + (t.documents?.length ?? 0) > 0, 'needs at least one file or document');
/** A tool call of a DAG node. */
export type ToolCall = z.infer<typeof toolCallSchema>;

/** One node of a DAG: an LLM call (or a tool call) that runs once every node in `dependsOn` has succeeded. */
export const dagNodeSchema = z
  .object({
  id: nodeIdSchema,
  prompt: nonEmpty().optional(),
  tool: toolCallSchema.optional(),
  system: z.string({ error: 'must be a string' }).optional(),
  dependsOn: z.array(nodeIdSchema, { error: 'must be a list of node ids' }).optional(),
  model: nonEmpty().optional(),
  maxTokens: callOptionsSchema.shape.maxTokens,
  name: nonEmpty().optional(),
  /** Expected duration, only used as a weight for the critical path (default 1). */
  estimatedMs: z.number({ error: 'must be a number' }).positive('must be greater than 0').finite('must be finite').optional(),
})
  .refine((n) => (n.prompt === undefined) !== (n.tool === undefined), 'needs exactly one of "prompt" (an LLM call) or "tool" (a tool call)');
/** One node of a DAG spec. */
export type DagNode = z.infer<typeof dagNodeSchema>;

/** Input of a DAG run: the nodes plus options shared with fan-outs. */
export const dagSpecSchema = callOptionsSchema.extend({
  name: nonEmpty().optional(),
  nodes: z.array(dagNodeSchema, { error: 'must be a list of nodes' }).min(1, 'must not be empty'),
  maxConcurrent: maxConcurrentSchema.optional(),
  onFailure: z.enum(['skip-dependents', 'fail-fast'], { error: 'must be "skip-dependents" or "fail-fast"' }).optional(),
});
/** A validated DAG spec. */
export type DagSpec = z.infer<typeof dagSpecSchema>;

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
// Validation

/** What validation can read of a node even when the schema rejects the spec. */
interface LooseNode {
  id: string;
  deps: string[];
  /** False when `dependsOn` is present but not a list of strings: its edges are unknown. */
  depsKnown: boolean;
  texts: string[];
}

/**
 * Reads ids, deps and prompts from the raw input without trusting it, so graph problems are
 * reported together with schema problems instead of one round-trip per mistake.
 * Returns `allIds: false` when some node has no string id (a dep might name it).
 */
function looseNodes(input: unknown): { nodes: LooseNode[]; allIds: boolean } {
  const raw = typeof input === 'object' && input !== null ? (input as { nodes?: unknown }).nodes : undefined;
  if (!Array.isArray(raw)) return { nodes: [], allIds: false };
  const nodes: LooseNode[] = [];
  let allIds = true;
  for (const item of raw) {
    const n = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
    if (typeof n.id !== 'string') {
      allIds = false;
      continue;
    }
    const d = n.dependsOn;
    const depsKnown = d === undefined || (Array.isArray(d) && d.every((x) => typeof x === 'string'));
    const deps = Array.isArray(d) ? d.filter((x): x is string => typeof x === 'string') : [];
    const texts = [n.prompt, n.system].filter((t): t is string => typeof t === 'string');
    nodes.push({ id: n.id, deps, depsKnown, texts });
  }
  return { nodes, allIds };
}

/** Graph problems of a (possibly schema-invalid) spec, in a stable order. */
function graphProblems({ nodes, allIds }: { nodes: LooseNode[]; allIds: boolean }): string[] {
  const problems: string[] = [];
  const ids = nodes.map((n) => n.id);
  const dupIds = duplicates(ids);
  if (dupIds.length) problems.push(`duplicate node ids: ${dupIds.join(', ')}`);
  const known = new Set(ids);
  let unknownDeps = false;
  for (const n of nodes) {
    if (n.deps.includes(n.id)) problems.push(`node "${n.id}" depends on itself`);
    for (const d of duplicates(n.deps)) problems.push(`node "${n.id}" lists "${d}" more than once in dependsOn`);
    // A missing id elsewhere could be the one a dep names: only claim "unknown" when all ids are readable.
    if (!allIds) continue;
    for (const d of new Set(n.deps)) {
      if (!known.has(d)) {
        problems.push(`node "${n.id}" depends on unknown node "${d}"`);
        unknownDeps = true;
      }
    }
  }
  // Cycles and placeholders are only meaningful on a graph whose ids and edges are all known;
  // otherwise they would mostly echo the problems above.
  if (!allIds || dupIds.length || unknownDeps || nodes.some((n) => !n.depsKnown)) return problems;
  for (const n of nodes) {
    const deps = new Set(n.deps);
    const used = new Set(n.texts.flatMap(placeholdersIn));
    for (const p of used) if (!deps.has(p)) problems.push(`node "${n.id}" uses {{${p}}} but does not depend on "${p}"`);
  }
  // Self-edges are already reported above; leaving them out avoids a second `cycle: a → a`.
  const g = indexGraph(nodes.map((n) => ({ id: n.id, dependsOn: n.deps.filter((d) => d !== n.id) })));
  for (const cycle of findCycles(g)) problems.push(`cycle: ${cycle.join(' → ')}`);
  return problems;
}

/**
 * Validates a DAG spec; throws InvalidInputError naming every problem (joined with '; ').
 * Cycles print as `cycle: a → b → a`, where each arrow reads "depends on".
 */
export function validateDag(input: unknown): DagSpec {
  const parsed = dagSpecSchema.safeParse(input);
  const problems: string[] = [];
  if (!parsed.success) problems.push(formatIssues(parsed.error));
  problems.push(...graphProblems(looseNodes(input)));
  if (!parsed.success || problems.length) throw new InvalidInputError(`Invalid DAG spec: ${problems.join('; ')}`);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Graph index (internal): nodes by position, edges as sorted, de-duplicated index lists.

interface Graph<N extends GraphNode = GraphNode> {
  nodes: readonly N[];
  ids: string[];
  indexOf: Map<string, number>;
  /** deps[i]: positions of the nodes that node i depends on, sorted by id. */
  deps: number[][];
  /** dependents[i]: positions of the nodes that depend on node i, sorted by id. */
  dependents: number[][];
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Indexes nodes; throws InvalidInputError on duplicate ids or unknown deps. */
function indexGraph<N extends GraphNode>(nodes: readonly N[]): Graph<N> {
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
function findCycles(g: Graph): string[][] {
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
function topoIndices(g: Graph): number[] {
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
function weightsOf<N extends GraphNode>(g: Graph<N>, weight: NodeWeight<N>): number[] {
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

// ---------------------------------------------------------------------------------------------
// Placeholders

/** Ids named by `{{id}}` placeholders in a template, in order of first use, each once. */
export function placeholdersIn(template: string): string[] {
  return [...new Set(Array.from(template.matchAll(PLACEHOLDER), (m) => m[1]))];
}

/** Replaces `{{id}}` with outputs[id]; placeholders without an output stay as written. */
export function fillPlaceholders(template: string, outputs: Record<string, string>): string {
  // hasOwn, not `in`: an id like "constructor" must not pick up Object.prototype members.
  // A replacer function keeps `$&` and friends in outputs literal.
  return template.replace(PLACEHOLDER, (whole, id: string) => (Object.prototype.hasOwnProperty.call(outputs, id) ? outputs[id] : whole));
}

// ---------------------------------------------------------------------------------------------

/** Minimal binary heap (the smallest by `cmp` on top), so scheduling large DAGs stays n log n. */
class Heap<T> {
  private items: T[] = [];
  constructor(private readonly cmp: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.cmp(a[i], a[p]) >= 0) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  pop(): T {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.cmp(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.cmp(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
