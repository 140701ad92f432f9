/** The admission state machine (pure): windows, reservations, settlement, AIMD, leases. */
import { acquire, initialLimiterState, settle, type AcquireRequest } from '../../src/core/limiter';

const req = (over: Partial<AcquireRequest> = {}): AcquireRequest => ({
  model: 'm',
  inputTokens: 100,
  maxOutputTokens: 50,
  limits: {},
  windowMs: 10_000,
  leaseMs: 60_000,
  ...over,
});

describe('limiter', () => {
  test('input tokens per window: admits up to the budget, then says when to come back', () => {
    const s = initialLimiterState();
    const limits = { itpm: 250 };
    expect(acquire(s, req({ limits }), 0).granted).toBe(true);
    expect(acquire(s, req({ limits }), 10).granted).toBe(true);
    const refused = acquire(s, req({ limits }), 20);
    expect(refused).toMatchObject({ granted: false, reason: '250 input tokens per window reached' });
    // The first entry leaves the window (plus a safety margin of 1 s) at 11 000 ms.
    expect(refused.granted === false && refused.retryAfterMs).toBe(10_980);
    expect(acquire(s, req({ limits }), 11_001).granted).toBe(true);
  });

  test('a request sent later than its grant counts from when it was sent', () => {
    const s = initialLimiterState();
    const limits = { itpm: 100 };
    const a = acquire(s, req({ limits }), 0) as { permitId: string };
    settle(s, { permitId: a.permitId, outcome: 'success', tokens: { input: 100, output: 1 }, sentAt: 3000 }, 3100);
    expect(acquire(s, req({ limits }), 11_500).granted).toBe(false);
    expect(acquire(s, req({ limits }), 14_001).granted).toBe(true);
  });

  test('output tokens are reserved at max_tokens and settled to the real usage', () => {
    const s = initialLimiterState();
    const limits = { otpm: 120 };
    const a = acquire(s, req({ limits, maxOutputTokens: 100 }), 0);
    expect(acquire(s, req({ limits, maxOutputTokens: 100 }), 1).granted).toBe(false);
    settle(s, { permitId: (a as { permitId: string }).permitId, outcome: 'success', tokens: { input: 100, output: 10 } }, 2);
    expect(acquire(s, req({ limits, maxOutputTokens: 100 }), 3).granted).toBe(true);
  });

  test('requests per window', () => {
    const s = initialLimiterState();
    expect(acquire(s, req({ limits: { rpm: 2 } }), 0).granted).toBe(true);
    expect(acquire(s, req({ limits: { rpm: 2 } }), 0).granted).toBe(true);
    expect(acquire(s, req({ limits: { rpm: 2 } }), 0)).toMatchObject({ granted: false, reason: '2 requests per window reached' });
  });

  test('a single call larger than the whole budget runs alone instead of never', () => {
    const s = initialLimiterState();
    expect(acquire(s, req({ limits: { itpm: 10 }, inputTokens: 500 }), 0).granted).toBe(true);
    expect(acquire(s, req({ limits: { itpm: 10 }, inputTokens: 500 }), 1).granted).toBe(false);
  });

  test('adaptive concurrency halves on throttling, pauses for retry-after, and grows back additively', () => {
    const s = initialLimiterState();
    const limits = { adaptiveMax: 8 };
    const permits = Array.from({ length: 8 }, (_, i) => acquire(s, req({ limits }), i));
    expect(permits.every((p) => p.granted)).toBe(true);
    expect(acquire(s, req({ limits }), 9)).toMatchObject({ granted: false, reason: 'concurrency 8 reached' });
    settle(s, { permitId: (permits[0] as { permitId: string }).permitId, outcome: 'throttled', retryAfterMs: 500 }, 10);
    expect(s.models.m.limit).toBe(4);
    expect(acquire(s, req({ limits }), 100)).toMatchObject({ granted: false, reason: 'paused after a rate-limit answer' });
    for (const p of permits.slice(1, 6)) settle(s, { permitId: (p as { permitId: string }).permitId, outcome: 'success', tokens: { input: 1, output: 1 } }, 600);
    expect(s.models.m.limit).toBeGreaterThan(4);
    expect(s.models.m.limit).toBeLessThan(6);
    // 2 still in flight, limit ~5: three more fit.
    expect([0, 1, 2, 3].map(() => acquire(s, req({ limits }), 700).granted)).toEqual([true, true, true, false]);
  });

  test('many 429s from one burst halve the limit once, not once each', () => {
    const s = initialLimiterState();
    const limits = { adaptiveMax: 16 };
    const burst = Array.from({ length: 16 }, (_, i) => acquire(s, req({ limits }), i) as { permitId: string });
    for (const p of burst.slice(0, 12)) settle(s, { permitId: p.permitId, outcome: 'throttled', retryAfterMs: 100 }, 50);
    expect(s.models.m.limit).toBe(8);
    // A request granted after the decrease that is throttled again halves it again.
    const later = acquire(s, req({ limits }), 200) as { permitId: string };
    settle(s, { permitId: later.permitId, outcome: 'throttled', retryAfterMs: 100 }, 300);
    expect(s.models.m.limit).toBe(4);
  });

  test('a permit whose worker died is reclaimed when its lease expires', () => {
    const s = initialLimiterState();
    const limits = { adaptiveMax: 1 };
    expect(acquire(s, req({ limits, leaseMs: 5000 }), 0).granted).toBe(true);
    expect(acquire(s, req({ limits, leaseMs: 5000 }), 4000).granted).toBe(false);
    expect(acquire(s, req({ limits, leaseMs: 5000 }), 5001).granted).toBe(true);
  });

  test('state survives JSON (continue-as-new)', () => {
    const s = initialLimiterState();
    acquire(s, req({ limits: { itpm: 150 } }), 0);
    const copy = JSON.parse(JSON.stringify(s));
    expect(acquire(copy, req({ limits: { itpm: 150 } }), 1).granted).toBe(false);
  });
});
