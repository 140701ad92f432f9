/**
 * Classifies every way an LLM call can fail, once, into a Temporal ApplicationFailure:
 * retryable ones carry the provider's retry-after as nextRetryDelay; the rest are non-retryable
 * with a message that says what to fix. Messages never include the API key.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { LlmErrorType, LlmFailureDetails } from '../core/errors';
import { NON_RETRYABLE_LLM_ERRORS } from '../core/errors';

/** Cap on how long we let a provider's retry-after delay one attempt. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Reads `retry-after-ms` or `retry-after` (seconds or an HTTP date) from a response's headers. */
export function retryAfterMs(headers: Headers | undefined | null, now: number = Date.now()): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return clamp(Number(ms));
  const s = headers.get('retry-after');
  if (s === null || s.trim() === '') return undefined;
  if (Number.isFinite(Number(s))) return clamp(Number(s) * 1000);
  const date = Date.parse(s);
  return Number.isFinite(date) ? clamp(date - now) : undefined;
}

function clamp(ms: number): number {
  return Math.min(Math.max(0, Math.round(ms)), MAX_RETRY_AFTER_MS);
}

// Spend limits and empty credit balances arrive as 429 or 400/402 but retrying cannot help.
const SPEND_LIMIT = /spend(ing)? limit|credit balance|billing|quota exceeded|insufficient (funds|credit)/i;

/** Classification of one error: the failure type, whether to retry, and the message to show. */
export interface Classified {
  type: LlmErrorType;
  retryable: boolean;
  message: string;
  status?: number;
  retryAfterMs?: number;
  requestId?: string;
}

/** Maps any error thrown by an LLM call to its failure type. */
export function classifyLlmError(err: unknown): Classified {
  if (err instanceof APIUserAbortError) {
    return { type: 'Timeout', retryable: true, message: 'request aborted' };
  }
  if (err instanceof APIConnectionTimeoutError) {
    return { type: 'Timeout', retryable: true, message: 'the LLM request timed out' };
  }
  if (err instanceof APIConnectionError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return { type: 'ConnectionError', retryable: true, message: `connection to the LLM API failed${cause}` };
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const status = err.status;
    const apiMessage = err.apiMessage ?? err.message;
    const base = { status, requestId: err.requestID ?? undefined };
    const ra = retryAfterMs(err.headers as Headers | undefined);
    const msg = (what: string) => `${what} (HTTP ${status}): ${apiMessage}`;
    if (SPEND_LIMIT.test(apiMessage) && (status === 429 || status === 400 || status === 402 || status === 403)) {
      return { ...base, type: 'SpendLimitExceeded', retryable: false, message: msg('spend limit or credit exhausted; raise the limit or add credit') };
    }
    switch (status) {
      case 400:
        return { ...base, type: 'BadRequest', retryable: false, message: msg('bad request') };
      case 401:
        return {
          ...base,
          type: 'AuthenticationError',
          retryable: false,
          message: msg('authentication failed: ANTHROPIC_API_KEY is missing or wrong'),
        };
      case 402:
        return { ...base, type: 'SpendLimitExceeded', retryable: false, message: msg('billing error') };
      case 403:
        return { ...base, type: 'PermissionDenied', retryable: false, message: msg('permission denied: the API key may not use this resource') };
      case 404:
        return { ...base, type: 'NotFound', retryable: false, message: msg('not found (is the model name right?)') };
      case 413:
        return { ...base, type: 'RequestTooLarge', retryable: false, message: msg('request too large') };
      case 408:
        return { ...base, type: 'Timeout', retryable: true, message: msg('request timeout'), retryAfterMs: ra };
      case 429:
        return { ...base, type: 'RateLimited', retryable: true, message: msg('rate limited'), retryAfterMs: ra };
      case 529:
        return { ...base, type: 'Overloaded', retryable: true, message: msg('the API is overloaded'), retryAfterMs: ra };
      default:
        if (status >= 500) return { ...base, type: 'ServerError', retryable: true, message: msg('server error'), retryAfterMs: ra };
        if (status === 409) return { ...base, type: 'ServerError', retryable: true, message: msg('conflict'), retryAfterMs: ra };
        return { ...base, type: 'BadRequest', retryable: false, message: msg('request rejected') };
    }
  }
  // A 200 whose body is not JSON surfaces as a plain SyntaxError from the SDK (possibly from
  // another realm, so match by name rather than instanceof).
  if (err instanceof Error && err.name === 'SyntaxError') {
    return { type: 'MalformedResponse', retryable: true, message: `the LLM API returned a malformed response: ${err.message}` };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'ConnectionError', retryable: true, message: `LLM call failed: ${message}` };
}

/** Turns an LLM error into the ApplicationFailure the activity throws. */
export function toActivityFailure(err: unknown, attempt: number): ApplicationFailure | CancelledFailure {
  if (err instanceof CancelledFailure) return err;
  // Already decided by the activity (e.g. ThrottledTooLong).
  if (err instanceof ApplicationFailure) return err;
  const c = classifyLlmError(err);
  const details: LlmFailureDetails = { attempt, status: c.status, retryAfterMs: c.retryAfterMs, requestId: c.requestId };
  return ApplicationFailure.create({
    message: c.message,
    type: c.type,
    nonRetryable: !c.retryable || (NON_RETRYABLE_LLM_ERRORS as readonly string[]).includes(c.type),
    nextRetryDelay: c.retryable && c.retryAfterMs !== undefined ? c.retryAfterMs : undefined,
    details: [details],
  });
}
