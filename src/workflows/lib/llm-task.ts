/**
 * Runs one LLM task as an activity and turns every outcome into a TaskResult: success, a
 * permanent failure (with its type, message and attempts), or cancellation. Workflow-side only.
 */
import { ActivityCancellationType, ActivityFailure, ApplicationFailure, TimeoutFailure, isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, LlmCallInput } from '../../activities';
import { NON_RETRYABLE_LLM_ERRORS, type LlmFailureDetails } from '../../core/errors';
import { activitySummary, llmTaskQueue } from '../../core/names';
import type { CallOptions, TaskResult } from '../../core/tasks';
import { DEFAULT_THROTTLE_DEADLINE_MS } from '../../core/flow';

/**
 * How long one LLM request may take, from when it is sent, unless a run sets timeoutMs. The
 * attempt's start-to-close timeout is this plus the throttle deadline: waiting for flow control
 * (and waiting out 429s) happens inside the attempt and must not time it out.
 */
export const LLM_ATTEMPT_TIMEOUT_MS = 5 * 60_000;
/** A worker that stops heartbeating for this long is presumed dead and its call is retried. */
export const LLM_HEARTBEAT_TIMEOUT_MS = 10_000;
/** Attempts per LLM call unless a run sets maxAttempts. */
export const LLM_MAX_ATTEMPTS = 5;

function llm() {
  return proxyActivities<Activities>({
    taskQueue: llmTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: LLM_ATTEMPT_TIMEOUT_MS,
    heartbeatTimeout: LLM_HEARTBEAT_TIMEOUT_MS,
    // A cancelled run waits until its in-flight requests are really aborted, so it stops paying.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: LLM_MAX_ATTEMPTS,
      nonRetryableErrorTypes: [...NON_RETRYABLE_LLM_ERRORS],
    },
  });
}

/** One LLM task to run. */
export interface LlmTask extends LlmCallInput {
  taskId: string;
  name: string;
  /** One line shown in the Web UI for this activity, e.g. `research: Acme`. */
  summary?: string;
}

/**
 * The fairness key of a run's LLM calls: its tenant, or the run itself (the root workflow, so a
 * sharded run's children share their parent's key). Keys are at most 64 bytes.
 */
export function fairnessKey(opts: Pick<CallOptions, 'tenant'>): string {
  const info = workflowInfo();
  return (opts.tenant ?? info.root?.workflowId ?? info.workflowId).slice(0, 64);
}

/** Calls the LLM for one task; never throws except for cancellation of the workflow itself. */
export async function runLlmTask(task: LlmTask, opts: CallOptions = {}): Promise<TaskResult> {
  const scheduledAt = Date.now();
  const maxAttempts = opts.maxAttempts ?? LLM_MAX_ATTEMPTS;
  const base = { taskId: task.taskId, name: task.name };
  try {
    const r = await llm().callLlm.executeWithOptions(
      {
        summary: activitySummary(task.summary ?? task.name),
        startToCloseTimeout: (opts.timeoutMs ?? LLM_ATTEMPT_TIMEOUT_MS) + (opts.throttleDeadlineMs ?? DEFAULT_THROTTLE_DEADLINE_MS),
        // Fairness between runs on one task queue (servers with fairness on; ignored otherwise).
        priority: { fairnessKey: fairnessKey(opts) },
        retry: { maximumAttempts: maxAttempts },
      },
      [
        {
          prompt: task.prompt,
          system: task.system,
          model: task.model ?? opts.model,
          maxTokens: task.maxTokens ?? opts.maxTokens,
          cache: opts.cache,
          requestTimeoutMs: opts.timeoutMs ?? LLM_ATTEMPT_TIMEOUT_MS,
          ...(opts.throttleDeadlineMs ? { throttleDeadlineMs: opts.throttleDeadlineMs } : {}),
        },
      ],
    );
    return {
      ...base,
      state: 'succeeded',
      success: true,
      output: r.text,
      error: null,
      errorType: null,
      durationMs: r.durationMs,
      attempts: r.attempt,
      tokens: r.tokens,
      model: r.model,
      stopReason: r.stopReason,
      truncated: r.stopReason === 'max_tokens',
      costUsd: r.costUsd,
      ...(r.cached ? { cached: true, tokensSaved: r.tokensSaved } : {}),
      ...(r.throttles ? { throttles: r.throttles } : {}),
    };
  } catch (err) {
    const durationMs = Date.now() - scheduledAt;
    if (isCancellation(err)) {
      return { ...base, state: 'cancelled', success: false, output: null, error: 'cancelled', errorType: 'Cancelled', durationMs, attempts: 0, tokens: { input: 0, output: 0 } };
    }
    const f = describeFailure(err, maxAttempts);
    return { ...base, state: 'failed', success: false, output: null, error: f.message, errorType: f.type, durationMs, attempts: f.attempts, tokens: { input: 0, output: 0 } };
  }
}

/** Extracts type, message and attempt count from an activity failure. */
export function describeFailure(err: unknown, maxAttempts: number): { type: string; message: string; attempts: number } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const exhausted = err instanceof ActivityFailure && err.retryState === 'MAXIMUM_ATTEMPTS_REACHED';
  if (cause instanceof ApplicationFailure) {
    const d = cause.details?.[0] as LlmFailureDetails | undefined;
    const attempts = exhausted ? maxAttempts : (d?.attempt ?? 1);
    const suffix = exhausted ? ` (gave up after ${attempts} attempts)` : '';
    return { type: cause.type ?? 'Error', message: `${cause.message}${suffix}`, attempts };
  }
  if (cause instanceof TimeoutFailure) {
    const attempts = exhausted ? maxAttempts : 1;
    return { type: 'Timeout', message: `LLM call timed out (${(cause.timeoutType ?? 'timeout').toLowerCase().replace(/_/g, '-')})${exhausted ? ` after ${attempts} attempts` : ''}`, attempts };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'Error', message, attempts: exhausted ? maxAttempts : 1 };
}
