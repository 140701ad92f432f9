/** Error classification of LLM calls (pure; SDK error objects built as the SDK builds them). */
import { APIConnectionError, APIConnectionTimeoutError, APIError } from '@anthropic-ai/sdk';
import { classifyLlmError, retryAfterMs, toActivityFailure } from '../../src/llm/errors';

const apiError = (status: number, message: string, headers: Record<string, string> = {}) =>
  APIError.generate(status, { type: 'error', error: { type: 'x', message } }, message, new Headers(headers));

describe('classifyLlmError', () => {
  test.each([
    [429, 'RateLimited', true],
    [529, 'Overloaded', true],
    [500, 'ServerError', true],
    [503, 'ServerError', true],
    [400, 'BadRequest', false],
    [401, 'AuthenticationError', false],
    [403, 'PermissionDenied', false],
    [404, 'NotFound', false],
    [413, 'RequestTooLarge', false],
  ])('HTTP %i → %s (retryable %s)', (status, type, retryable) => {
    expect(classifyLlmError(apiError(status, 'boom'))).toMatchObject({ type, retryable, status });
  });
  test('401 says the API key is missing or wrong, without echoing any key', () => {
    const c = classifyLlmError(apiError(401, 'invalid x-api-key'));
    expect(c.message).toContain('ANTHROPIC_API_KEY is missing or wrong');
  });
  test('a spend-limit 429 is not retried', () => {
    expect(classifyLlmError(apiError(429, 'You have reached your spend limit'))).toMatchObject({ type: 'SpendLimitExceeded', retryable: false });
  });
  test('transport failures and malformed bodies are retryable', () => {
    expect(classifyLlmError(new APIConnectionTimeoutError())).toMatchObject({ type: 'Timeout', retryable: true });
    expect(classifyLlmError(new APIConnectionError({ message: 'Connection error.' }))).toMatchObject({ type: 'ConnectionError', retryable: true });
    let syntax: unknown;
    try {
      JSON.parse('{"oops');
    } catch (e) {
      syntax = e;
    }
    expect(classifyLlmError(syntax)).toMatchObject({ type: 'MalformedResponse', retryable: true });
  });
  test('retry-after becomes nextRetryDelay', () => {
    const f = toActivityFailure(apiError(429, 'slow down', { 'retry-after': '7' }), 2);
    expect(f).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: 7000 });
    expect((f as { details: unknown[] }).details[0]).toMatchObject({ attempt: 2, status: 429, retryAfterMs: 7000 });
    const g = toActivityFailure(apiError(400, 'bad'), 1);
    expect(g).toMatchObject({ type: 'BadRequest', nonRetryable: true });
  });
});

describe('retryAfterMs', () => {
  test('prefers retry-after-ms, reads seconds and HTTP dates, caps absurd values', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }))).toBe(1500);
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }))).toBe(3000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' }), now)).toBe(10000);
    expect(retryAfterMs(new Headers({ 'retry-after': '99999' }))).toBe(300000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });
});
