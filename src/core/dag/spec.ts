/**
 * Shape and validation of DAG specs: nodes are LLM calls (or agents, or tool calls) whose prompts may quote
 * the outputs of the nodes they depend on (`{{id}}`).
 * Pure and deterministic: bundled into workflow code (validation before any call) and used by the
 * client (the same validation before starting a run).
 */
import { z } from 'zod';
import { formatIssues, listOf, maxConcurrentSchema, nodeIdSchema, nonEmptyList, nonEmptyString, oneOf, plainString, positiveNumber, wholeNumber } from '../schema';
import { agentOptionsSchema } from '../agent-options';
import { InvalidInputError, callOptionsSchema, duplicates } from '../tasks';
import { findCycles, indexGraph } from './graph';
import { placeholdersIn } from './template';

/** A document given to a tool inline. */
const documentSchema = z.object({ name: nonEmptyString(), text: plainString() });

/** A tool call: runs off the LLM path, on the tools task queue (see src/activities/tools.ts). */
export const toolCallSchema = z
  .object({
    name: oneOf(['document-stats']),
    /** Local files the tools worker reads. */
    files: listOf(nonEmptyString(), 'file paths').optional(),
    /** Documents given inline. */
    documents: listOf(documentSchema, '{name, text}').optional(),
    /** How many top terms to report. */
    topTerms: wholeNumber(1, 1000).optional(),
  })
  .refine((t) => (t.files?.length ?? 0) + (t.documents?.length ?? 0) > 0, 'needs at least one file or document');
/** A tool call of a DAG node. */
export type ToolCall = z.infer<typeof toolCallSchema>;

/** One node of a DAG: an LLM call (or a tool call) that runs once every node in `dependsOn` has succeeded. */
export const dagNodeSchema = z
  .object({
    id: nodeIdSchema,
    prompt: nonEmptyString().optional(),
    tool: toolCallSchema.optional(),
    system: plainString().optional(),
    dependsOn: listOf(nodeIdSchema, 'node ids').optional(),
    model: nonEmptyString().optional(),
    maxTokens: callOptionsSchema.shape.maxTokens,
    /** Run the node's prompt as an agent with these tools; `{{id}}` quotes its final text. */
    agent: agentOptionsSchema.optional(),
    name: nonEmptyString().optional(),
    /** Expected duration, only used as a weight for the critical path (default 1). */
    estimatedMs: positiveNumber().optional(),
  })
  .refine((n) => (n.prompt === undefined) !== (n.tool === undefined), 'needs exactly one of "prompt" (an LLM call) or "tool" (a tool call)')
  .refine((n) => n.agent === undefined || n.prompt !== undefined, '"agent" needs a "prompt" (the agent\'s task)');
/** One node of a DAG spec. */
export type DagNode = z.infer<typeof dagNodeSchema>;

/** Input of a DAG run: the nodes plus options shared with fan-outs. */
export const dagSpecSchema = callOptionsSchema.extend({
  name: nonEmptyString().optional(),
  nodes: nonEmptyList(dagNodeSchema, 'nodes'),
  maxConcurrent: maxConcurrentSchema.optional(),
  onFailure: oneOf(['skip-dependents', 'fail-fast']).optional(),
});
/** A validated DAG spec. */
export type DagSpec = z.infer<typeof dagSpecSchema>;
/** What a caller passes to `runDag` (validated inside the workflow). */
export type DagParams = z.input<typeof dagSpecSchema>;

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
