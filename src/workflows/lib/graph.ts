/**
 * The DAG executor inside workflows: each node awaits the results of its dependencies and asks
 * for a slot the moment they are in — no level-by-level barriers. When more nodes are ready than
 * slots, the ranked slots grant them critical-path-first. Built on the one scheduler
 * (scheduler.ts); shared by runDag and competitiveIntel.
 */
import { criticalPath, levels, priorityRanks, topologicalOrder } from '../../core/dag';
import type { TaskResult } from '../../core/tasks';
import { runAgentTask, type AgentTask } from './agent-task';
import { BudgetGate } from './budget-gate';
import { runLlmTask, type LlmTask } from './llm-task';
import { schedule, type Job, type JobCall, type SchedulingOptions } from './scheduler';
import { runToolTask, type ToolTask } from './tool-task';

/** What a node runs, built from its dependencies' results once they are known. */
export type NodeCall =
  | ({ kind: 'llm' } & Omit<LlmTask, 'taskId' | 'name'>)
  | ({ kind: 'tool' } & Omit<ToolTask, 'taskId' | 'name'>)
  /** An agent: the `agent` workflow as a child `<run>/<node>`; its final text is the node's output. */
  | ({ kind: 'agent' } & Omit<AgentTask, 'taskId' | 'name'>)
  /** Nothing worth calling (e.g. a summary with no material): the node is skipped with this reason. */
  | { kind: 'skip'; reason: string };

/** One node to execute. */
export interface ExecNode {
  id: string;
  name: string;
  dependsOn: string[];
  /** Stage or group shown in progress and reports (e.g. `research`). */
  group?: string;
  /** Weight for critical-path ranking (expected duration). */
  weight?: number;
  /** Run even when some dependencies failed or were skipped (e.g. a summary of what succeeded). */
  tolerateFailedDeps?: boolean;
  build: (deps: Record<string, NodeResult>) => NodeCall;
}

/** A node's outcome: a TaskResult plus where it sat in the graph and when it ran (workflow time, ms). */
export interface NodeResult extends TaskResult {
  dependsOn: string[];
  group?: string;
  level: number;
  /** All dependencies done: the node became ready. */
  scheduledAt: number | null;
  /** A slot was granted and the call started. */
  startedAt: number | null;
  finishedAt: number | null;
}

/** How to execute a graph. */
export interface GraphOptions extends SchedulingOptions {
  /**
   * `skip-dependents` (default): a failed node's dependents, and theirs, are skipped. `fail-fast`:
   * the first failure cancels the rest and fails the run with a `NodeFailed` ApplicationFailure
   * whose details are `{ failedNode, results }`.
   */
  onFailure?: 'skip-dependents' | 'fail-fast';
}

/** Outcome of a graph: node results in the given order, plus the critical path over actual durations. */
export interface GraphOutcome {
  results: NodeResult[];
  criticalPath: string[];
  idealMakespanMs: number;
}

/** Executes nodes (already validated: unique ids, known deps, no cycles). */
export async function executeGraph(nodes: ExecNode[], opts: GraphOptions): Promise<GraphOutcome> {
  const ranks = priorityRanks(nodes, (n) => n.weight ?? 1);
  const level = levels(nodes);
  const position = new Map(nodes.map((n, i) => [n.id, i]));
  const budget = opts.budgetGate ?? new BudgetGate(opts.budget);
  const call = (n: ExecNode, deps: NodeResult[]): JobCall => {
    const c = n.build(Object.fromEntries(deps.map((r) => [r.taskId, r])));
    if (c.kind === 'skip') return { skip: c.reason };
    const id = { taskId: n.id, name: n.name };
    return {
      run: () =>
        c.kind === 'tool'
          ? runToolTask({ ...c, ...id }, opts, opts.policy?.tool)
          : c.kind === 'agent'
            ? runAgentTask({ ...c, ...id }, { ...opts, tokensLeft: budget.tokensLeft() })
            : runLlmTask({ ...c, ...id }, opts, opts.policy?.llm),
    };
  };
  const jobs: Job<NodeResult>[] = nodes.map((n) => ({
    taskId: n.id,
    name: n.name,
    rank: ranks.get(n.id) ?? 0,
    after: n.dependsOn.map((d) => position.get(d)!),
    tolerateFailedDeps: n.tolerateFailedDeps,
    call: (deps) => call(n, deps),
  }));

  const results = await schedule(jobs, {
    maxConcurrent: opts.maxConcurrent,
    progress: opts.progress,
    budget,
    startOrder: topologicalOrder(nodes).map((id) => position.get(id)!),
    result: (i, r: TaskResult, run) => {
      const n = nodes[i];
      return { ...r, dependsOn: n.dependsOn, group: n.group, level: level.get(n.id) ?? 0, scheduledAt: run.scheduledAt, startedAt: run.startedAt, finishedAt: run.finishedAt };
    },
    failFast:
      opts.onFailure === 'fail-fast'
        ? {
            type: 'NodeFailed',
            message: (f) => `Node "${f.taskId}" failed (${f.errorType}): ${f.error}`,
            details: (f, all) => ({ failedNode: f.taskId, results: all }),
          }
        : undefined,
  });

  const cp = criticalPath(
    nodes.map((n) => ({ id: n.id, dependsOn: n.dependsOn })),
    (n) => Math.max(results[position.get(n.id)!].durationMs, 0) || 0.001,
  );
  return { results, criticalPath: cp.path, idealMakespanMs: Math.round(cp.length) };
}
