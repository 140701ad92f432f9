/**
 * Bounded fan-out inside a workflow: every task in parallel, at most `maxConcurrent` in flight,
 * results in input order. Shared by fanOut, decomposeAndSynthesize and pipeline.
 */
import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { ProgressTracker } from '../../core/progress';
import type { CallOptions, TaskResult } from '../../core/tasks';
import { BudgetGate, notRunForBudget } from './budget-gate';
import { runLlmTask, type LlmTask } from './llm-task';
import { RankedSlots } from './ranked-slots';

/** Default in-flight cap of one run when the input does not set one. */
export const DEFAULT_MAX_CONCURRENT = 50;

/** How to run a batch of tasks. */
export interface BoundedOptions extends CallOptions {
  maxConcurrent?: number;
  /** On the first permanent failure, cancel in-flight siblings and fail the run with that error. */
  failFast?: boolean;
  progress?: ProgressTracker;
  /** The run's budget gate when the run spans several batches (pipeline stages, decompose steps): one budget for all. */
  budgetGate?: BudgetGate;
}

/** Runs tasks with a deterministic set of ranked slots; returns results in input order. */
export async function runBounded(tasks: LlmTask[], opts: BoundedOptions): Promise<TaskResult[]> {
  const slots = new RankedSlots(opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT);
  const results: (TaskResult | undefined)[] = new Array(tasks.length);
  let firstFailure: TaskResult | undefined;
  const scope = new CancellationScope();
  const budget = opts.budgetGate ?? new BudgetGate(opts.budget);

  const runOne = async (task: LlmTask, index: number): Promise<void> => {
    try {
      await slots.acquire(index);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      results[index] = cancelledBeforeStart(task);
      opts.progress?.finished(results[index]!);
      return;
    }
    try {
      const refusal = budget.refusal();
      if (refusal) {
        results[index] = notRunForBudget(task, refusal);
        opts.progress?.skipped(task.taskId, refusal);
        return;
      }
      opts.progress?.running(task.taskId);
      const r = await budget.run(() => runLlmTask(task, opts));
      results[index] = r;
      opts.progress?.finished(r);
      if (r.state === 'failed' && opts.failFast && !firstFailure) {
        firstFailure = r;
        scope.cancel();
      }
    } finally {
      slots.release();
    }
  };

  await scope.run(() => Promise.all(tasks.map((t, i) => runOne(t, i)))).catch((err: unknown) => {
    // The scope's own cancellation (fail-fast) is expected; anything else is a bug to surface.
    if (!(firstFailure && isCancellation(err))) throw err;
  });

  const final = results.map((r, i) => r ?? cancelledBeforeStart(tasks[i]));
  if (firstFailure) {
    throw ApplicationFailure.create({
      message: `Task "${firstFailure.name}" failed (${firstFailure.errorType}): ${firstFailure.error}`,
      type: 'TaskFailed',
      nonRetryable: true,
      details: [{ failedTask: firstFailure.taskId, results: final }],
    });
  }
  return final;
}

/** The result of a task that never started because its run was cancelled (or failed fast) first. */
export function cancelledBeforeStart(task: Pick<LlmTask, 'taskId' | 'name'>): TaskResult {
  return {
    taskId: task.taskId,
    name: task.name,
    state: 'cancelled',
    success: false,
    output: null,
    error: 'cancelled before it started',
    errorType: 'Cancelled',
    durationMs: 0,
    attempts: 0,
    tokens: { input: 0, output: 0 },
  };
}
