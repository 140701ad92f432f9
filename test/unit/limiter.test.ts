/** The admission state machine (pure): windows, reservations, settlement, AIMD, leases. */
import { BACKOFF, PROBE_SLOWDOWN, acquire, acquireBatch, checkBatch, describeLimiter, initialLimiterState, reconcile, settle, type AcquireRequest } from '../../src/core/limiter';

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

  test('adaptive concurrency drops below the level a 429 came at, pauses for retry-after, and grows back additively', () => {
    const s = initialLimiterState();
    const limits = { adaptiveMax: 8 };
    const permits = Array.from({ length: 8 }, (_, i) => acquire(s, req({ limits }), i) as { permitId: string });
    expect(permits.every((p) => p.permitId)).toBe(true);
    expect(acquire(s, req({ limits }), 9)).toMatchObject({ granted: false, reason: 'concurrency 8 reached' });
    // The 6th call (5 others in flight when it was granted) was throttled: the provider takes 5 at most.
    settle(s, { permitId: permits[5].permitId, outcome: 'throttled', retryAfterMs: 500 }, 10);
    expect(s.models.m.limit).toBe(5);
    expect(s.models.m.ceiling).toBe(6);
    expect(acquire(s, req({ limits }), 100)).toMatchObject({ granted: false, reason: 'paused after a rate-limit answer' });
    for (const p of permits.slice(0, 5)) settle(s, { permitId: p.permitId, outcome: 'success', tokens: { input: 1, output: 1 } }, 600);
    // Next to the throttled level, growth is PROBE_SLOWDOWN times slower.
    expect(s.models.m.limit).toBeGreaterThan(5);
    expect(s.models.m.limit).toBeLessThan(5 + 5 / (5 * PROBE_SLOWDOWN) + 1e-9);
    // 2 still in flight (permits 6 and 7), limit 5: three more fit.
    expect([0, 1, 2, 3].map(() => acquire(s, req({ limits }), 700).granted)).toEqual([true, true, true, false]);
  });

  test('a 429 at level 1 goes to 1 and a later success there lifts the ceiling; at a high limit BACKOFF is the larger step', () => {
    const s = initialLimiterState();
    const limits = { adaptiveMax: 20 };
    const p = acquire(s, req({ limits }), 0) as { permitId: string };
    // A 429 with nothing else in flight: the provider took none of ours, so the limit goes to its floor of 1.
    settle(s, { permitId: p.permitId, outcome: 'throttled', retryAfterMs: 10 }, 1);
    expect(s.models.m.limit).toBe(1);
    expect(s.models.m.ceiling).toBe(1);
    // A success at level 1 shows the ceiling was out of date: it moves up, and growth is normal again.
    const q = acquire(s, req({ limits }), 20) as { permitId: string };
    settle(s, { permitId: q.permitId, outcome: 'success', tokens: { input: 1, output: 1 } }, 30);
    expect(s.models.m.ceiling).toBe(2);
    expect(s.models.m.limit).toBeCloseTo(1 + 1 / PROBE_SLOWDOWN);
    // At the limit, the multiplicative backoff is the larger step: 20 in flight, the 20th throttled → 18, not 19.
    const big = initialLimiterState();
    const ps = Array.from({ length: 20 }, (_, i) => acquire(big, req({ limits }), i) as { permitId: string });
    settle(big, { permitId: ps[19].permitId, outcome: 'throttled', retryAfterMs: 10 }, 20);
    expect(BACKOFF).toBe(0.9);
    expect(big.models.m.limit).toBeCloseTo(18);
  });

  test('many 429s from one burst back off once, and settle on the lowest level throttled', () => {
    const s = initialLimiterState();
    const limits = { adaptiveMax: 16 };
    const burst = Array.from({ length: 16 }, (_, i) => acquire(s, req({ limits }), i) as { permitId: string });
    // The provider took 4; the 12 others were throttled, answered in reverse order.
    for (const p of burst.slice(4).reverse()) settle(s, { permitId: p.permitId, outcome: 'throttled', retryAfterMs: 100 }, 50);
    expect(s.models.m.limit).toBe(4);
    expect(s.models.m.lastDecreaseAt).toBe(50);
    // A request granted after the decrease that is throttled again backs off again.
    for (const p of burst.slice(0, 4)) settle(s, { permitId: p.permitId, outcome: 'success', tokens: { input: 1, output: 1 } }, 300);
    const later = [0, 1, 2, 3].map(() => acquire(s, req({ limits }), 400) as { permitId: string });
    settle(s, { permitId: later[3].permitId, outcome: 'throttled', retryAfterMs: 100 }, 500);
    // Throttled at level 4 now: below that (3), which is also below 4 × BACKOFF.
    expect(s.models.m.limit).toBe(3);
    expect(s.models.m.lastDecreaseAt).toBe(500);
  });

  test('a batch is granted in order as far as it fits; an unused permit is forgotten', () => {
    const s = initialLimiterState();
    const limits = { adaptiveMax: 3, itpm: 1000 };
    const batch = { model: 'm', limits, windowMs: 10_000, leaseMs: 60_000, requests: [100, 100, 100, 100].map((t) => ({ inputTokens: t, maxOutputTokens: 10 })) };
    const r = acquireBatch(s, batch, 0);
    expect(r).toEqual({ permitIds: ['p1', 'p2', 'p3'], retryAfterMs: 100, reason: 'concurrency 3 reached' });
    expect(checkBatch(s, batch, 1)).toMatchObject({ reason: 'concurrency 3 reached' });
    settle(s, { permitId: 'p1', outcome: 'unused' }, 2);
    expect(s.entries.map((e) => e.permitId)).toEqual(['p2', 'p3']);
    expect(s.models.m.limit).toBe(3);
    // A settle delivered twice counts once.
    settle(s, { permitId: 'p2', outcome: 'success', tokens: { input: 1, output: 1 } }, 2);
    const after = s.models.m.limit;
    settle(s, { permitId: 'p2', outcome: 'success', tokens: { input: 1, output: 1 } }, 2);
    expect(s.models.m.limit).toBe(after);
    expect(checkBatch(s, batch, 3)).toBeUndefined();
    expect(acquireBatch(s, batch, 3).permitIds).toEqual(['p4', 'p5']);
  });

  test('a batch delivered twice (same batchId) gets the same permits, not new ones', () => {
    const s = initialLimiterState();
    const batch = {
      model: 'm',
      limits: { adaptiveMax: 4 },
      windowMs: 10_000,
      leaseMs: 60_000,
      batchId: 'b1',
      requests: [
        { inputTokens: 1, maxOutputTokens: 1 },
        { inputTokens: 1, maxOutputTokens: 1 },
      ],
    };
    expect(acquireBatch(s, batch, 0).permitIds).toEqual(['p1', 'p2']);
    // Applied again (e.g. on the run after a continue-as-new): the same answer, nothing new in flight.
    expect(checkBatch(s, batch, 1)).toBeUndefined();
    expect(acquireBatch(s, batch, 1).permitIds).toEqual(['p1', 'p2']);
    expect(describeLimiter(s, 1).inFlight).toBe(2);
    expect(acquireBatch(s, { ...batch, batchId: 'b2' }, 2).permitIds).toEqual(['p3', 'p4']);
  });

  test("a holder's report renews the leases of what it holds and settles what it received and no longer holds", () => {
    const s = initialLimiterState();
    const limits = { adaptiveMax: 8 };
    const grant = (holder: string, model = 'm') =>
      acquireBatch(s, { model, limits, windowMs: 10_000, leaseMs: 60_000, holder, requests: [{ inputTokens: 1, maxOutputTokens: 1 }] }, 0).permitIds[0];
    const [a1, a2, a3, b1] = [grant('A'), grant('A'), grant('A'), grant('B'), grant('A', 'other')];
    // A has received m's permits up to p2 and other's up to p5; it still holds a2, and its settle of a1 was lost.
    const repaired = reconcile(s, { holder: 'A', held: [a2], seen: { m: 2, other: 5 }, leaseMs: 60_000 }, 30_000);
    // a1 (p1 ≤ 2, not held) repaired; a3 (p3 > 2: may still be on its way) left alone; b1 is B's; a4 (other, p5 ≤ 5) repaired.
    expect(repaired).toBe(2);
    const unsettled = s.entries.filter((e) => !e.settled).map((e) => e.permitId);
    expect(unsettled).toEqual([a2, a3, b1]);
    expect(s.entries.find((e) => e.permitId === a2)!.leaseUntil).toBe(90_000);
    // A settle arriving after the repair counts once (ignored).
    settle(s, { permitId: a1, outcome: 'success', tokens: { input: 1, output: 1 } }, 30_001);
    expect(s.entries.filter((e) => !e.settled)).toHaveLength(3);
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

describe('limiter state at fleet scale', () => {
  test('a state from before the bounded one (compact unset) keeps the old accounting: every settled call and batch list', () => {
    const s = { ...initialLimiterState(), compact: undefined };
    const a = acquireBatch(s, { model: 'm', limits: { itpm: 1000 }, windowMs: 10_000, leaseMs: 60_000, batchId: 'b1', requests: [{ inputTokens: 10, maxOutputTokens: 10 }] }, 0);
    settle(s, { permitId: a.permitIds[0], outcome: 'success', tokens: { input: 10, output: 5 } }, 100);
    expect(s.entries).toHaveLength(1);
    expect(s.used).toBeUndefined();
    expect(s.batches?.[0].permitIds).toEqual(a.permitIds);
    // The bounded state folds it and keeps first + count.
    const c = initialLimiterState();
    const b = acquireBatch(
      c,
      {
        model: 'm',
        limits: { itpm: 1000 },
        windowMs: 10_000,
        leaseMs: 60_000,
        batchId: 'b1',
        requests: [
          { inputTokens: 10, maxOutputTokens: 10 },
          { inputTokens: 10, maxOutputTokens: 10 },
        ],
      },
      0,
    );
    settle(c, { permitId: b.permitIds[0], outcome: 'success', tokens: { input: 10, output: 5 } }, 100);
    expect(c.entries).toHaveLength(1);
    expect(c.used?.m).toEqual([{ t: 0, last: 0, n: 1, input: 10, output: 5 }]);
    expect(
      acquireBatch(c, { model: 'm', limits: { itpm: 1000 }, windowMs: 10_000, leaseMs: 60_000, batchId: 'b1', requests: [{ inputTokens: 10, maxOutputTokens: 10 }] }, 200)
        .permitIds,
    ).toEqual(b.permitIds);
  });

  test('20 workers, 5,000 calls a minute for 5 minutes: the carried state stays small (calls in flight + buckets, not calls in the window)', () => {
    const s = initialLimiterState();
    const limits = { itpm: 10_000_000, otpm: 10_000_000, rpm: 100_000, adaptiveMax: 1000 };
    const inFlight: { permitId: string; until: number }[] = [];
    let maxBytes = 0;
    let batchNo = 0;
    // Every 60 ms one of 20 workers asks for 5 calls (5,000 a minute); each call takes 3 s.
    for (let now = 0; now < 5 * 60_000; now += 60) {
      for (const c of inFlight.filter((x) => x.until <= now))
        settle(s, { permitId: c.permitId, outcome: 'success', tokens: { input: 50, output: 200 }, sentAt: c.until - 3000 }, now);
      inFlight.splice(0, inFlight.length, ...inFlight.filter((x) => x.until > now));
      const holder = `worker-${batchNo % 20}`;
      const r = acquireBatch(
        s,
        {
          model: 'claude-sonnet-4-6',
          limits,
          windowMs: 60_000,
          leaseMs: 60_000,
          batchId: `b${batchNo++}`,
          holder,
          requests: Array.from({ length: 5 }, () => ({ inputTokens: 50, maxOutputTokens: 1024 })),
        },
        now,
      );
      for (const permitId of r.permitIds) inFlight.push({ permitId, until: now + 3000 });
      if (now % 10_000 === 0) maxBytes = Math.max(maxBytes, JSON.stringify(s).length);
    }
    expect(s.granted).toBe(25_000);
    // In flight: ~250 calls; the window's 5,000 settled calls are 62 buckets; 2 min of batch ids.
    console.log(
      `limiter state at 5,000 calls/min from 20 workers: max ${Math.round(maxBytes / 1024)} KB carried (entries ${s.entries.length}, buckets ${s.used?.['claude-sonnet-4-6']?.length}, batches ${s.batches?.length})`,
    );
    expect(maxBytes).toBeLessThan(300_000);
    expect(describeLimiter(s, 5 * 60_000).inFlight).toBeLessThanOrEqual(260);
  });
});
