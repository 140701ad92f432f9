/**
 * Runs one LLM task as an activity and turns every outcome into a TaskResult: success, a
 * permanent failure (with its type, message and attempts), or cancellation. Workflow-side only.
 */
import { ActivityCancellationType, isCancellation, proxyActivities, proxyLocalActivities, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { LlmActivities, LlmCallInput, LlmCallResult } from '../../activities';
import { NON_RETRYABLE_LLM_ERRORS } from '../../core/errors';
import { activitySummary } from '../../core/names';
import { cancelled, failed, succeeded } from '../../core/results';
import type { CallOptions, TaskResult } from '../../core/tasks';
import { DEFAULT_THROTTLE_DEADLINE_MS } from '../../core/flow';
import { describeFailure } from './failures';
import { streamInstalled } from './stream';

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

/** How a building block schedules its LLM activities; every field defaults to today's values. */
export interface LlmCallPolicy {
  /** Task queue of the LLM activities. Default: the run's `llmTaskQueue` input, else the workflow's own queue. */
  taskQueue?: string;
  /** How long one request may take from when it is sent (a run's `timeoutMs` input overrides it). */
  attemptTimeoutMs?: number;
  /** A worker silent for this long is presumed dead and the call retried. */
  heartbeatTimeoutMs?: number;
  /** Temporal's retry policy for LLM calls (a run's `maxAttempts` input overrides maximumAttempts). */
  retry?: RetryPolicy;
}

/** The retry policy of LLM calls unless a policy says otherwise. */
export const LLM_RETRY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: LLM_MAX_ATTEMPTS,
  nonRetryableErrorTypes: [...NON_RETRYABLE_LLM_ERRORS],
};

/** The task queue a run's activities go to: the policy's, else the run's input, else the workflow's own. */
export function activityQueue(policyQueue: string | undefined, inputQueue: string | undefined): string {
  return policyQueue ?? inputQueue ?? workflowInfo().taskQueue;
}

/** The run options that decide how its LLM activities are scheduled. */
export type LlmRunOptions = Pick<CallOptions, 'llmTaskQueue' | 'timeoutMs' | 'maxAttempts' | 'throttleDeadlineMs' | 'tenant' | 'llmDispatch'>;

/** How long one request may take from when it is sent: the run's timeoutMs, else the policy's, else the default. */
export function llmRequestTimeoutMs(opts: LlmRunOptions, policy: LlmCallPolicy = {}): number {
  return opts.timeoutMs ?? policy.attemptTimeoutMs ?? LLM_ATTEMPT_TIMEOUT_MS;
}

/** Attempts per LLM call: the run's maxAttempts, else the policy's, else the default. */
export function llmMaxAttempts(opts: LlmRunOptions, policy: LlmCallPolicy = {}): number {
  return opts.maxAttempts ?? policy.retry?.maximumAttempts ?? LLM_MAX_ATTEMPTS;
}

/** The LLM activities as a run's calls (LLM tasks and agent turns) are scheduled. */
export function llmActivities(opts: LlmRunOptions, policy: LlmCallPolicy = {}) {
  // What every attempt gets, as an activity or as a local activity.
  const attempt = {
    // Waiting for flow control (and out 429s) happens inside the attempt and must not time it out.
    startToCloseTimeout: llmRequestTimeoutMs(opts, policy) + (opts.throttleDeadlineMs ?? DEFAULT_THROTTLE_DEADLINE_MS),
    // A cancelled run waits until its in-flight requests are really aborted, so it stops paying.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { ...(policy.retry ?? LLM_RETRY), maximumAttempts: llmMaxAttempts(opts, policy) },
  };
  if (opts.llmDispatch === 'local') return proxyLocalActivities<LlmActivities>(attempt);
  return proxyActivities<LlmActivities>({
    ...attempt,
    taskQueue: activityQueue(policy.taskQueue, opts.llmTaskQueue),
    heartbeatTimeout: policy.heartbeatTimeoutMs ?? LLM_HEARTBEAT_TIMEOUT_MS,
    // Fairness between runs on one task queue (servers with fairness on; ignored otherwise).
    priority: { fairnessKey: fairnessKey(opts) },
  });
}

/** One LLM task to run (where it streams to comes from the run's options). */
export interface LlmTask extends Omit<LlmCallInput, 'stream'> {
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

/** Where a run's streamed calls publish their text. */
export interface StreamRouting {
  /**
   * The workflow whose stream channel (installStream) receives the text of this run's calls when
   * `stream` is on: a child workflow sets its root run's id here. Default: this workflow, when it
   * installed a channel (otherwise nothing is streamed, so no signal waits for a missing handler).
   */
  streamTo?: string;
}

/** The activity's stream target of a task, or undefined when the run does not stream. */
function streamTarget(task: LlmTask, opts: CallOptions & StreamRouting): LlmCallInput['stream'] {
  if (!opts.stream) return undefined;
  const workflowId = opts.streamTo ?? (streamInstalled() ? workflowInfo().workflowId : undefined);
  return workflowId ? { workflowId, callId: task.taskId } : undefined;
}

/**
 * Calls the LLM for one task; never rejects except for cancellation of the workflow itself. A chain
 * of `then`s, not an async function: under the SDK's promise hook each promise costs a stack trace
 * and this runs once per call (README Performance).
 */
export function runLlmTask(task: LlmTask, opts: CallOptions & StreamRouting = {}, policy: LlmCallPolicy = {}): Promise<TaskResult> {
  const scheduledAt = Date.now();
  const maxAttempts = llmMaxAttempts(opts, policy);
  const base = { taskId: task.taskId, name: task.name };
  const failure = (err: unknown): TaskResult => {
    const durationMs = Date.now() - scheduledAt;
    if (isCancellation(err)) return cancelled(base, durationMs);
    const f = describeFailure(err, maxAttempts);
    return failed(base, { error: f.message, errorType: f.type, durationMs, attempts: f.attempts });
  };
  const success = (r: LlmCallResult): TaskResult => {
    try {
      return succeeded(base, {
        output: r.text,
        durationMs: r.durationMs,
        attempts: r.attempt,
        tokens: r.tokens,
        model: r.model,
        stopReason: r.stopReason,
        truncated: r.stopReason === 'max_tokens',
        costUsd: r.costUsd,
        ...(r.cached ? { cached: true, tokensSaved: r.tokensSaved } : {}),
        ...(r.throttles ? { throttles: r.throttles } : {}),
      });
    } catch (err) {
      return failure(err);
    }
  };
  let call: Promise<LlmCallResult>;
  try {
    const stream = streamTarget(task, opts);
    call = llmActivities(opts, policy).callLlm.executeWithOptions({ summary: activitySummary(task.summary ?? task.name) }, [
      {
        prompt: task.prompt,
        system: task.system,
        model: task.model ?? opts.model,
        maxTokens: task.maxTokens ?? opts.maxTokens,
        cache: opts.cache,
        requestTimeoutMs: llmRequestTimeoutMs(opts, policy),
        ...(opts.throttleDeadlineMs ? { throttleDeadlineMs: opts.throttleDeadlineMs } : {}),
        ...(task.output ? { output: task.output } : {}),
        // Absent unless the run streams, so the activity input (and old histories) stay as they were.
        ...(stream ? { stream } : {}),
        // A local activity looks in the answer journal on every execution: no further back than the run's start.
        ...(opts.llmDispatch === 'local' ? { journalSinceMs: workflowInfo().runStartTime.getTime() } : {}),
      },
    ]);
  } catch (err) {
    // Scheduling threw: the same result as a rejected call (a throw in failure() rejects).
    return new Promise((resolve) => resolve(failure(err)));
  }
  return call.then(success, failure);
}
