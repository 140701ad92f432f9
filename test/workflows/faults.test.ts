/**
 * The fault matrix: every way the provider can fail, one test each, asserting what the LLM server
 * actually received and what the run reports.
 */
import type { FaultRule } from '../../src/testing';
import type { FanOutResult } from '../../src/workflows/fan-out';
import { sharedHarness } from '../helpers/harness';

interface Case {
  fault: FaultRule['fault'];
  times?: number;
  input?: Record<string, unknown>;
  expect: { success: boolean; attempts: number; calls: number; errorType?: string; error?: RegExp };
}

const cases: [string, Case][] = [
  // Throttling (429 that is not a spend limit, 529) waits and goes again in the same attempt.
  ['429 with retry-after', { fault: { kind: 'status', status: 429, retryAfterS: 2 }, times: 1, expect: { success: true, attempts: 1, calls: 2 } }],
  ['529 overloaded', { fault: { kind: 'status', status: 529 }, times: 1, expect: { success: true, attempts: 1, calls: 2 } }],
  ['500 server error (twice)', { fault: { kind: 'status', status: 500 }, times: 2, expect: { success: true, attempts: 3, calls: 3 } }],
  ['dropped connection', { fault: { kind: 'drop' }, times: 1, expect: { success: true, attempts: 2, calls: 2 } }],
  ['hang past the timeout', { fault: { kind: 'hang' }, times: 1, input: { timeoutMs: 1000 }, expect: { success: true, attempts: 2, calls: 2 } }],
  ['malformed JSON body', { fault: { kind: 'malformed' }, times: 1, expect: { success: true, attempts: 2, calls: 2 } }],
  [
    '400 bad request',
    {
      fault: { kind: 'status', status: 400, message: 'messages: text content blocks must be non-empty' },
      expect: { success: false, attempts: 1, calls: 1, errorType: 'BadRequest', error: /text content blocks must be non-empty/ },
    },
  ],
  [
    '401 bad API key',
    {
      fault: { kind: 'status', status: 401, message: 'invalid x-api-key' },
      expect: { success: false, attempts: 1, calls: 1, errorType: 'AuthenticationError', error: /ANTHROPIC_API_KEY is missing or wrong/ },
    },
  ],
  [
    '429 spend limit',
    {
      fault: { kind: 'status', status: 429, message: 'You have reached your specified workspace API spend limit' },
      expect: { success: false, attempts: 1, calls: 1, errorType: 'SpendLimitExceeded' },
    },
  ],
  [
    'attempts exhausted',
    {
      fault: { kind: 'status', status: 500, message: 'internal' },
      input: { maxAttempts: 3 },
      expect: { success: false, attempts: 3, calls: 3, errorType: 'ServerError', error: /internal \(gave up after 3 attempts\)/ },
    },
  ],
];

// The same matrix with the LLM calls as activities (the default) and as local activities of the
// workflow's worker (llmDispatch 'local'): retries, throttle waits and timeouts must not differ.
describe.each([
  ['activities', {}],
  ['local activities', { llmDispatch: 'local' }],
])('fault matrix (LLM calls as %s)', (_dispatch, dispatch) => {
  const h = sharedHarness({ llm: { ttftMs: 20, perTokenMs: 0, outputTokens: 10 } });

  test.each(cases)('%s', async (_name, c) => {
    h.llm.setFaults([{ match: 'victim', times: c.times, fault: c.fault }]);
    const r = await h.run<FanOutResult>('fanOut', {
      tasks: [
        { name: 'victim', prompt: 'victim task' },
        { name: 'bystander', prompt: 'other task' },
      ],
      ...dispatch,
      ...c.input,
    });
    const [victim, bystander] = r.results;
    expect(victim).toMatchObject({ success: c.expect.success, attempts: c.expect.attempts });
    if (c.expect.errorType) expect(victim.errorType).toBe(c.expect.errorType);
    if (c.expect.error) expect(victim.error).toMatch(c.expect.error);
    expect(h.llm.countMatching('victim')).toBe(c.expect.calls);
    // One bad call never disturbs the others.
    expect(bystander.success).toBe(true);
    expect(h.llm.countMatching('other task')).toBe(1);
    if (c.fault.kind === 'status' && c.fault.retryAfterS) {
      const [first, second] = h.llm.stats().requests.filter((q) => q.prompt.includes('victim'));
      expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(c.fault.retryAfterS * 1000);
    }
    if (c.fault.kind === 'hang') expect(h.llm.stats().requests.find((q) => q.prompt.includes('victim'))!.aborted).toBe(true);
    expect(r.stats.failed).toBe(c.expect.success ? 0 : 1);
  });
});
