/** Runs one tool call as an activity on the tools task queue and returns a TaskResult. */
import { proxyActivities, workflowInfo, isCancellation } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { ToolCall } from '../../core/dag';
import { activitySummary, toolTaskQueue } from '../../core/names';
import type { TaskResult } from '../../core/tasks';
import { describeFailure } from './llm-task';

/** Attempts of a tool call (tool failures are mostly bad input). */
const TOOL_MAX_ATTEMPTS = 3;

/** One tool task. */
export interface ToolTask {
  taskId: string;
  name: string;
  tool: ToolCall;
  summary?: string;
}

function tools() {
  return proxyActivities<Activities>({
    taskQueue: toolTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: TOOL_MAX_ATTEMPTS, nonRetryableErrorTypes: ['ToolInputError'] },
  });
}

/** Runs a tool; failures and cancellation become results, like LLM tasks. */
export async function runToolTask(task: ToolTask): Promise<TaskResult> {
  const started = Date.now();
  const base = { taskId: task.taskId, name: task.name, tokens: { input: 0, output: 0 } };
  try {
    const r = await tools().documentStats.executeWithOptions({ summary: activitySummary(task.summary ?? `tool ${task.tool.name}: ${task.name}`) }, [task.tool]);
    return { ...base, state: 'succeeded', success: true, output: r.text, error: null, errorType: null, durationMs: r.durationMs, attempts: 1 };
  } catch (err) {
    const durationMs = Date.now() - started;
    if (isCancellation(err)) return { ...base, state: 'cancelled', success: false, output: null, error: 'cancelled', errorType: 'Cancelled', durationMs, attempts: 0 };
    const f = describeFailure(err, TOOL_MAX_ATTEMPTS);
    return { ...base, state: 'failed', success: false, output: null, error: f.message, errorType: f.type, durationMs, attempts: f.attempts };
  }
}
