/**
 * Bounded fan-out inside a workflow: every task (an LLM call or an agent) in parallel, at most `maxConcurrent` in flight,
 * results in input order. Shared by fanOut, decomposeAndSynthesize and pipeline. A fan-out is a
 * graph without edges, ranked by index, on the one scheduler (scheduler.ts).
 */
import type { AgentOptions } from '../../core/agent-options';
import type { TaskResult } from '../../core/tasks';
import { runAgentTask } from './agent-task';
import { BudgetGate } from './budget-gate';
import { runLlmTask, type LlmTask } from './llm-task';
import { schedule, type SchedulingOptions } from './scheduler';

export { DEFAULT_MAX_CONCURRENT } from './scheduler';

/** One task of a batch: an LLM call, or an agent when `agent` is set. */
export type BoundedTask = LlmTask & { agent?: AgentOptions };

/** How to run a batch of tasks. */
export interface BoundedOptions extends SchedulingOptions {
  /** On the first permanent failure, cancel in-flight siblings and fail the run with that error. */
  failFast?: boolean;
}

/**
 * Runs tasks with a deterministic set of ranked slots; returns results in input order. With
 * failFast, the first failed task fails the run with a `TaskFailed` ApplicationFailure whose
 * details are `{ failedTask, results }`.
 */
export async function runBounded(tasks: BoundedTask[], opts: BoundedOptions): Promise<TaskResult[]> {
  const budget = opts.budgetGate ?? new BudgetGate(opts.budget);
  const run = ({ agent, ...task }: BoundedTask) =>
    agent ? runAgentTask({ ...task, agent }, { ...opts, tokensLeft: budget.tokensLeft() }) : runLlmTask(task, opts, opts.policy?.llm);
  return schedule(
    tasks.map((task, index) => ({ taskId: task.taskId, name: task.name, rank: index, after: [], call: () => ({ run: () => run(task) }) })),
    {
      maxConcurrent: opts.maxConcurrent,
      progress: opts.progress,
      budget,
      result: (_i, r) => r,
      failFast: opts.failFast
        ? {
            type: 'TaskFailed',
            message: (f) => `Task "${f.name}" failed (${f.errorType}): ${f.error}`,
            details: (f, results) => ({ failedTask: f.taskId, results }),
          }
        : undefined,
    },
  );
}
