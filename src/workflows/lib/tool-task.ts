/** Runs one tool call as an activity on the tools task queue and returns a TaskResult. */
import { ActivityFailure, ApplicationFailure, proxyActivities, isCancellation, type RetryPolicy } from '@temporalio/workflow';
import type { ToolActivities } from '../../activities';
import type { AgentToolSpec } from '../../core/agent';
import type { ToolCall } from '../../core/dag';
import { activitySummary } from '../../core/names';
import { cancelled, failed, succeeded } from '../../core/results';
import type { CallOptions, TaskResult } from '../../core/tasks';
import { describeFailure } from './failures';
import { activityQueue } from './llm-task';

/** Attempts of a tool call (tool failures are mostly bad input). */
const TOOL_MAX_ATTEMPTS = 3;

/** One tool task. */
export interface ToolTask {
  taskId: string;
  name: string;
  tool: ToolCall;
  summary?: string;
}

/** How a building block schedules its tool activities; every field defaults to today's values. */
export interface ToolCallPolicy {
  /** Task queue of the tool activities. Default: the run's `toolTaskQueue` input, else the workflow's own queue. */
  taskQueue?: string;
  startToCloseTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
  retry?: RetryPolicy;
}

/** The retry policy of tool calls unless a policy says otherwise. */
export const TOOL_RETRY: RetryPolicy = { maximumAttempts: TOOL_MAX_ATTEMPTS, nonRetryableErrorTypes: ['ToolInputError', 'ToolError', 'UnknownTool', 'ToolConfigError'] };

/** The tool activities, scheduled as the policy says (the `inputQueue` is the run's `toolTaskQueue`). */
export function toolActivities(policy: ToolCallPolicy = {}, inputQueue?: string) {
  return proxyActivities<ToolActivities>({
    taskQueue: activityQueue(policy.taskQueue, inputQueue),
    startToCloseTimeout: policy.startToCloseTimeoutMs ?? 10 * 60_000,
    heartbeatTimeout: policy.heartbeatTimeoutMs ?? 30_000,
    retry: policy.retry ?? TOOL_RETRY,
  });
}

/** Runs a tool; failures and cancellation become results, like LLM tasks. */
export async function runToolTask(task: ToolTask, opts: Pick<CallOptions, 'toolTaskQueue'> = {}, policy: ToolCallPolicy = {}): Promise<TaskResult> {
  const started = Date.now();
  const base = { taskId: task.taskId, name: task.name };
  try {
    const r = await toolActivities(policy, opts.toolTaskQueue).documentStats.executeWithOptions(
      { summary: activitySummary(task.summary ?? `tool ${task.tool.name}: ${task.name}`) },
      [task.tool],
    );
    return succeeded(base, { output: r.text, durationMs: r.durationMs, attempts: 1 });
  } catch (err) {
    const durationMs = Date.now() - started;
    if (isCancellation(err)) return cancelled(base, durationMs);
    const f = describeFailure(err, policy.retry?.maximumAttempts ?? TOOL_MAX_ATTEMPTS);
    return failed(base, { error: f.message, errorType: f.type, durationMs, attempts: f.attempts });
  }
}

/**
 * The definitions of the tools `names` (one `describeAgentTools` call on the tools worker), before
 * any LLM call; a name the worker does not offer fails the run as InvalidInput, naming it.
 */
export async function describeAgentToolsOrFail(names: string[], toolTaskQueue: string | undefined): Promise<AgentToolSpec[]> {
  if (names.length === 0) return [];
  try {
    return await toolActivities({}, toolTaskQueue).describeAgentTools.executeWithOptions({ summary: activitySummary(`agent tools: ${names.join(', ')}`) }, [{ names }]);
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === 'UnknownTool') throw ApplicationFailure.nonRetryable(`Invalid agent tools: ${cause.message}`, 'InvalidInput');
    throw err;
  }
}
