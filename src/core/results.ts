/**
 * Every way a task ends, as a TaskResult: the one place result objects are built (LLM and tool
 * calls, the scheduler, budgets, skips, shards). Pure and deterministic: bundled into workflow code.
 */
import { BUDGET_EXCEEDED } from './budget';
import type { TaskResult, TaskState, Tokens } from './tasks';

/** Which task a result is for. Only these two fields are copied from it. */
export type TaskIdentity = Pick<TaskResult, 'taskId' | 'name'>;

/** What a successful call reports; tokens default to none (tool calls). */
export type SuccessFields = Pick<TaskResult, 'output' | 'durationMs' | 'attempts'> &
  Partial<Pick<TaskResult, 'tokens' | 'model' | 'stopReason' | 'truncated' | 'costUsd' | 'cached' | 'tokensSaved' | 'throttles'>>;

/** What a permanent failure reports. */
export interface FailureFields {
  error: string;
  errorType: string;
  durationMs: number;
  attempts: number;
}

const noTokens = (): Tokens => ({ input: 0, output: 0 });

function ended(task: TaskIdentity, state: Exclude<TaskState, 'succeeded'>, error: string, errorType: string, durationMs = 0, attempts = 0): TaskResult {
  return { taskId: task.taskId, name: task.name, state, success: false, output: null, error, errorType, durationMs, attempts, tokens: noTokens() };
}

/** A call that succeeded. */
export function succeeded(task: TaskIdentity, r: SuccessFields): TaskResult {
  return { taskId: task.taskId, name: task.name, state: 'succeeded', success: true, error: null, errorType: null, ...r, tokens: r.tokens ?? noTokens() };
}

/** A call that failed for good (its retries, if any, are spent). Nothing was paid. */
export function failed(task: TaskIdentity, f: FailureFields): TaskResult {
  return ended(task, 'failed', f.error, f.errorType, f.durationMs, f.attempts);
}

/** A call cancelled while it ran (the run was cancelled, or failed fast). */
export function cancelled(task: TaskIdentity, durationMs: number): TaskResult {
  return ended(task, 'cancelled', 'cancelled', 'Cancelled', durationMs);
}

/** A task that never started because its run was cancelled (or failed fast) first. */
export function cancelledBeforeStart(task: TaskIdentity): TaskResult {
  return ended(task, 'cancelled', 'cancelled before it started', 'Cancelled');
}

/** A task not run, with the reason users see (e.g. `skipped: dependency "a" failed (…)`). */
export function skipped(task: TaskIdentity, reason: string): TaskResult {
  return ended(task, 'skipped', reason, 'Skipped');
}

/** A task that did not run because the run's budget was spent. */
export function notRunForBudget(task: TaskIdentity, reason: string): TaskResult {
  return ended(task, 'skipped', reason, BUDGET_EXCEEDED);
}

/**
 * Why a task must be skipped given its dependencies' results (in `dependsOn` order), or undefined
 * when all of them succeeded. The first dependency that did not succeed decides: a failed or
 * cancelled one is named with its error; a skipped one passes its own reason on unchanged, so a
 * whole chain below a failure says which node failed and why.
 */
export function dependencySkipReason(deps: readonly TaskResult[]): string | undefined {
  const b = deps.find((r) => r.state !== 'succeeded');
  if (!b) return undefined;
  if (b.state === 'skipped') return b.error ?? `dependency "${b.taskId}" was skipped`;
  return `skipped: dependency "${b.taskId}" ${b.state}${b.error ? ` (${b.error})` : ''}`;
}
