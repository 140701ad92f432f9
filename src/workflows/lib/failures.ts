/** What an activity failure means for a task: its type, message and attempts, as users see them. Workflow-side. */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { NON_RETRYABLE_LLM_ERRORS, type LlmFailureDetails } from '../../core/errors';

/** Type, message and attempt count of a failed call. */
export interface DescribedFailure {
  type: string;
  message: string;
  attempts: number;
}

/** Extracts type, message and attempt count from an activity failure. */
export function describeFailure(err: unknown, maxAttempts: number): DescribedFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const exhausted = err instanceof ActivityFailure && err.retryState === 'MAXIMUM_ATTEMPTS_REACHED';
  if (cause instanceof ApplicationFailure) {
    const d = cause.details?.[0] as LlmFailureDetails | undefined;
    // A local activity's failure may come without its ActivityFailure (no retry state): the last attempt says it gave up.
    const gaveUp =
      exhausted ||
      (!(err instanceof ActivityFailure && err.retryState) && !cause.nonRetryable && !NON_RETRYABLE_LLM_ERRORS.includes(cause.type as never) && (d?.attempt ?? 0) >= maxAttempts);
    const attempts = gaveUp ? maxAttempts : (d?.attempt ?? 1);
    const suffix = gaveUp ? ` (gave up after ${attempts} attempts)` : '';
    return { type: cause.type ?? 'Error', message: `${cause.message}${suffix}`, attempts };
  }
  if (cause instanceof TimeoutFailure) {
    const attempts = exhausted ? maxAttempts : 1;
    return {
      type: 'Timeout',
      message: `LLM call timed out (${(cause.timeoutType ?? 'timeout').toLowerCase().replace(/_/g, '-')})${exhausted ? ` after ${attempts} attempts` : ''}`,
      attempts,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'Error', message, attempts: exhausted ? maxAttempts : 1 };
}
