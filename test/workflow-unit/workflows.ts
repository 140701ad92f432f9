/**
 * Test workflows for the scheduling tests: they call executeGraph and runBounded directly with
 * nodes and tasks built from plain (serialisable) specs, so a test states exactly the graph,
 * ranks and failures it wants. Bundled as workflow code: deterministic, no I/O.
 */
import { CancellationScope, setHandler } from '@temporalio/workflow';
import { ProgressTracker, type Progress } from '../../src/core/progress';
import type { BudgetSpec, TaskResult } from '../../src/core/tasks';
import { progressQuery } from '../../src/protocol';
import { runBounded } from '../../src/workflows/lib/bounded';
import { BudgetGate } from '../../src/workflows/lib/budget-gate';
import { executeGraph, type ExecNode, type GraphOutcome } from '../../src/workflows/lib/graph';
import type { CallPolicy } from '../../src/workflows/lib/policy';

/** One node: its call's prompt is its id; its system prompt lists its dependencies' states (`a=succeeded,b=failed`). */
export interface NodeSpec {
  id: string;
  dependsOn?: string[];
  weight?: number;
  group?: string;
  tolerateFailedDeps?: boolean;
  /** A tool call instead of an LLM call. */
  tool?: boolean;
  /** build() says there is nothing to call, with this reason. */
  skip?: string;
}

export interface GraphInput {
  nodes: NodeSpec[];
  maxConcurrent?: number;
  onFailure?: 'skip-dependents' | 'fail-fast';
  budget?: BudgetSpec;
  policy?: CallPolicy;
}

export interface GraphRun {
  outcome: GraphOutcome;
  progress: Progress;
  cancelled: boolean;
}

/** The dependency states a node's call saw, as its system prompt. */
const depStates = (deps: Record<string, TaskResult>) =>
  Object.keys(deps)
    .sort()
    .map((d) => `${d}=${deps[d].state}`)
    .join(',');

/** executeGraph over the given nodes. */
export async function graphWorkflow(input: GraphInput): Promise<GraphRun> {
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  for (const n of input.nodes) progress.add(n.id, `node ${n.id}`, n.group);
  const nodes: ExecNode[] = input.nodes.map((n) => ({
    id: n.id,
    name: `node ${n.id}`,
    dependsOn: n.dependsOn ?? [],
    weight: n.weight,
    group: n.group,
    tolerateFailedDeps: n.tolerateFailedDeps,
    build: (deps) => {
      if (n.skip) return { kind: 'skip', reason: n.skip };
      if (n.tool) return { kind: 'tool', tool: { name: 'document-stats', documents: [{ name: n.id, text: depStates(deps) || 'none' }] } };
      return { kind: 'llm', prompt: n.id, system: depStates(deps) };
    },
  }));
  const outcome = await executeGraph(nodes, { maxConcurrent: input.maxConcurrent, onFailure: input.onFailure, budget: input.budget, policy: input.policy, progress });
  return { outcome, progress: progress.snapshot(), cancelled: CancellationScope.current().consideredCancelled };
}

export interface BoundedInput {
  /** Task ids; each task's prompt is its id. */
  tasks: string[];
  maxConcurrent?: number;
  failFast?: boolean;
  budget?: BudgetSpec;
  /** Run the tasks as this many consecutive batches sharing one BudgetGate (like pipeline stages). */
  batches?: number;
  policy?: CallPolicy;
}

export interface BoundedRun {
  results: TaskResult[];
  progress: Progress;
  cancelled: boolean;
}

/** runBounded over the given tasks (in one batch, or several sharing one budget gate). */
export async function boundedWorkflow(input: BoundedInput): Promise<BoundedRun> {
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  const tasks = input.tasks.map((id) => ({ taskId: id, name: `task ${id}`, prompt: id }));
  for (const t of tasks) progress.add(t.taskId, t.name);
  const opts = { maxConcurrent: input.maxConcurrent, failFast: input.failFast, budget: input.budget, policy: input.policy, progress };
  let results: TaskResult[];
  if (input.batches && input.batches > 1) {
    const budgetGate = new BudgetGate(input.budget);
    const size = Math.ceil(tasks.length / input.batches);
    results = [];
    for (let i = 0; i < tasks.length; i += size) results.push(...(await runBounded(tasks.slice(i, i + size), { ...opts, budgetGate })));
  } else {
    results = await runBounded(tasks, opts);
  }
  return { results, progress: progress.snapshot(), cancelled: CancellationScope.current().consideredCancelled };
}
