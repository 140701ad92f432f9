/**
 * The DAG executor inside workflows: each node awaits the promises of its dependencies and asks
 * for a slot the moment they resolve — no level-by-level barriers. When more nodes are ready than
 * slots, the ranked slots grant them critical-path-first. Shared by runDag and competitiveIntel.
 */
import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { criticalPath, levels, priorityRanks, topologicalOrder } from '../../core/dag';
import type { ProgressTracker } from '../../core/progress';
import type { CallOptions, TaskResult } from '../../core/tasks';
import { runLlmTask, type LlmTask } from './llm-task';
import { runToolTask, type ToolTask } from './tool-task';
import { BudgetGate, notRunForBudget } from './budget-gate';
import { RankedSlots } from './ranked-slots';
import { DEFAULT_MAX_CONCURRENT } from './bounded';

/** What a node runs, built from its dependencies' results once they are known. */
export type NodeCall =
  | ({ kind: 'llm' } & Omit<LlmTask, 'taskId' | 'name'>)
  | ({ kind: 'tool' } & Omit<ToolTask, 'taskId' | 'name'>)
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
export interface GraphOptions extends CallOptions {
  maxConcurrent?: number;
  onFailure?: 'skip-dependents' | 'fail-fast';
  progress?: ProgressTracker;
}

/** Outcome of a graph: node results in the given order, plus the critical path over actual durations. */
export interface GraphOutcome {
  results: NodeResult[];
  criticalPath: string[];
  idealMakespanMs: number;
}

/** Executes nodes (already validated: unique ids, known deps, no cycles). */
export async function executeGraph(nodes: ExecNode[], opts: GraphOptions): Promise<GraphOutcome> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ranks = priorityRanks(nodes, (n) => n.weight ?? 1);
  const level = levels(nodes);
  const slots = new RankedSlots(opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT);
  const promises = new Map<string, Promise<NodeResult>>();
  const scope = new CancellationScope();
  const budget = new BudgetGate(opts.budget);
  let firstFailure: NodeResult | undefined;

  const blank = (n: ExecNode): NodeResult => ({
    taskId: n.id,
    name: n.name,
    state: 'cancelled',
    success: false,
    output: null,
    error: null,
    errorType: null,
    durationMs: 0,
    attempts: 0,
    tokens: { input: 0, output: 0 },
    dependsOn: n.dependsOn,
    group: n.group,
    level: level.get(n.id) ?? 0,
    scheduledAt: null,
    startedAt: null,
    finishedAt: null,
  });

  const runNode = async (n: ExecNode): Promise<NodeResult> => {
    const depResults = await Promise.all(n.dependsOn.map((d) => promises.get(d)!));
    const deps = Object.fromEntries(depResults.map((r) => [r.taskId, r]));
    const base = blank(n);
    if (scope.consideredCancelled || firstFailure) {
      return finish({ ...base, error: 'cancelled before it started', errorType: 'Cancelled' });
    }
    const blocked = depResults.filter((r) => r.state !== 'succeeded');
    if (blocked.length && !n.tolerateFailedDeps) {
      const b = blocked[0];
      const why = b.state === 'skipped' ? (b.error ?? `dependency "${b.taskId}" was skipped`) : `dependency "${b.taskId}" ${b.state}${b.error ? ` (${b.error})` : ''}`;
      const reason = b.state === 'skipped' ? why : `skipped: ${why}`;
      opts.progress?.skipped(n.id, reason);
      return { ...base, state: 'skipped', error: reason, errorType: 'Skipped' };
    }
    const scheduledAt = Date.now();
    try {
      await slots.acquire(ranks.get(n.id) ?? 0);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      return finish({ ...base, scheduledAt, error: 'cancelled before it started', errorType: 'Cancelled' });
    }
    const startedAt = Date.now();
    try {
      const refusal = budget.refusal();
      if (refusal) {
        opts.progress?.skipped(n.id, refusal);
        return { ...base, ...notRunForBudget(base, refusal), dependsOn: n.dependsOn, group: n.group, level: base.level, scheduledAt };
      }
      opts.progress?.running(n.id);
      const call = n.build(deps);
      if (call.kind === 'skip') {
        opts.progress?.skipped(n.id, call.reason);
        return { ...base, scheduledAt, state: 'skipped', error: call.reason, errorType: 'Skipped' };
      }
      const r = await budget.run(() =>
        call.kind === 'tool' ? runToolTask({ ...call, taskId: n.id, name: n.name }) : runLlmTask({ ...call, taskId: n.id, name: n.name }, opts),
      );
      const result = finish({ ...base, ...r, dependsOn: n.dependsOn, group: n.group, level: base.level, scheduledAt, startedAt, finishedAt: Date.now() });
      if (result.state === 'failed' && opts.onFailure === 'fail-fast' && !firstFailure) {
        firstFailure = result;
        scope.cancel();
      }
      return result;
    } finally {
      slots.release();
    }
  };

  const finish = (r: NodeResult): NodeResult => {
    opts.progress?.finished(r);
    return r;
  };

  await scope
    .run(async () => {
      for (const id of topologicalOrder(nodes)) promises.set(id, runNode(byId.get(id)!));
      await Promise.all(promises.values());
    })
    .catch((err: unknown) => {
      if (!(firstFailure && isCancellation(err))) throw err;
    });

  const resultById = new Map<string, NodeResult>();
  for (const [id, p] of promises) resultById.set(id, await p);
  const results = nodes.map((n) => resultById.get(n.id) ?? blank(n));
  const cp = criticalPath(
    nodes.map((n) => ({ id: n.id, dependsOn: n.dependsOn })),
    (n) => Math.max(resultById.get(n.id)?.durationMs ?? 0, 0) || 0.001,
  );

  if (firstFailure) {
    throw ApplicationFailure.create({
      message: `Node "${firstFailure.taskId}" failed (${firstFailure.errorType}): ${firstFailure.error}`,
      type: 'NodeFailed',
      nonRetryable: true,
      details: [{ failedNode: firstFailure.taskId, results }],
    });
  }
  return { results, criticalPath: cp.path, idealMakespanMs: Math.round(cp.length) };
}
