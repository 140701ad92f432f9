/**
 * Failure types of LLM calls, shared by the activity (which classifies errors once) and the
 * workflows (whose retry policy lists the non-retryable ones). Pure.
 */

/** Retryable: the provider or the network may do better on the next attempt. */
export const RETRYABLE_LLM_ERRORS = ['RateLimited', 'Overloaded', 'ServerError', 'Timeout', 'ConnectionError', 'MalformedResponse'] as const;

/** Non-retryable: the same request will fail the same way; retrying only costs time and money. */
export const NON_RETRYABLE_LLM_ERRORS = [
  'BadRequest',
  'AuthenticationError',
  'PermissionDenied',
  'NotFound',
  'RequestTooLarge',
  'SpendLimitExceeded',
  'InvalidInput',
  'ThrottledTooLong',
] as const;

/** Every LLM failure type. */
export type LlmErrorType = (typeof RETRYABLE_LLM_ERRORS)[number] | (typeof NON_RETRYABLE_LLM_ERRORS)[number];

/** Details attached to an LLM activity's ApplicationFailure. */
export interface LlmFailureDetails {
  status?: number;
  attempt: number;
  retryAfterMs?: number;
  requestId?: string;
}
