/** The fleet limiter's lease protocol (pure): slots, token buckets, aggregate usage, fairness, state size. */
import { CONTENDED_RENEW_MS, leaseRefusal, renewLease, type LeaseRequest } from '../../src/core/lease';
import { acquireBatch, describeLimiter, initialLimiterState, settle, type LimiterState, type ModelLimits } from '../../src/core/limiter';

let seq = 0;
const renewal = (over: Partial<LeaseRequest> & { limits: ModelLimits }): LeaseRequest => ({
  id: `r${++seq}`,
  holder: 'w1',
  model: 'm',
  windowMs: 10_000,
  leaseMs: 15_000,
  inFlight: 0,
  want: { slots: 0, requests: 0, input: 0, output: 0 },
  returned: { requests: 0, input: 0, output: 0 },
  usage: { success: 0, throttled: 0, inputRefund: 0, outputRefund: 0 },
  ...over,
});
const want = (slots: number, requests = 0, input = 0, output = 0) => ({ slots, requests, input, output });
const fresh = (): LimiterState => ({ ...initialLimiterState(), leasing: true });

describe('lease: concurrency slots', () => {
  test('a holder gets what it wants up to the adaptive limit; two holders under contention share it by demand and are told to renew soon', () => {
    const s = fresh();
    const limits = { adaptiveMax: 10 };
    expect(renewLease(s, renewal({ limits, want: want(4) }), 0)).toMatchObject({ slots: 4, requests: null, input: null, output: null, renewInMs: 5000 });
    // w2 wants 12: 6 are left; the fleet wants 16 > 10, so shares are by demand and renewals come sooner.
    const g2 = renewLease(s, renewal({ holder: 'w2', limits, want: want(12) }), 10);
    expect(g2).toMatchObject({ slots: 6, renewInMs: CONTENDED_RENEW_MS });
    // w1 renews wanting 12 too: its fair share is 5 (of 10 by 12/24), and w2 holds 6: w1 gets 4.
    expect(renewLease(s, renewal({ limits, inFlight: 4, want: want(12) }), 20).slots).toBe(4);
    // w2 renews: its share is 5 now, so its lease shrinks; while it still runs 6, w1 stays at 4.
    expect(renewLease(s, renewal({ holder: 'w2', limits, inFlight: 6, want: want(12) }), 1000).slots).toBe(5);
    expect(renewLease(s, renewal({ limits, inFlight: 4, want: want(12) }), 1010).slots).toBe(4);
    expect(describeLimiter(s, 1010)).toMatchObject({ holders: 2, inFlight: 10, models: { m: { limit: 10, slotsLeased: 10 } } });
    // Once w2 runs only its 5, w1 gets its 5.
    renewLease(s, renewal({ holder: 'w2', limits, inFlight: 5, want: want(12) }), 2000);
    expect(renewLease(s, renewal({ limits, inFlight: 4, want: want(12) }), 2010).slots).toBe(5);
  });

  test('spare slots (for calls a holder expects) leave a reserve, so calls arriving at another holder start without waiting for spares to come back', () => {
    const s = fresh();
    const limits = { adaptiveMax: 10 };
    // A needs 2 and expects 20 more: it gets its 2 and spares from the 8 nobody needs, less a reserve of 1.
    expect(renewLease(s, renewal({ holder: 'a', limits, want: want(2), ahead: want(20) }), 0)).toMatchObject({ slots: 9 });
    // B's call arrives: it fits the reserve at once; with all slots out, holders are told to renew soon.
    expect(renewLease(s, renewal({ holder: 'b', limits, want: want(1) }), 10)).toMatchObject({ slots: 1, renewInMs: CONTENDED_RENEW_MS });
    // At A's next renewal its spares shrink to what is left over.
    expect(renewLease(s, renewal({ holder: 'a', limits, inFlight: 2, want: want(2), ahead: want(20) }), 1000).slots).toBe(8);
  });

  test('a holder that stops renewing loses its slots after its lease; the first one waiting gets them', () => {
    const s = fresh();
    const limits = { adaptiveMax: 4 };
    renewLease(s, renewal({ holder: 'dead', limits, want: want(4) }), 0);
    const g = renewLease(s, renewal({ limits, want: want(2) }), 100);
    expect(g).toMatchObject({ slots: 0, retryAfterMs: CONTENDED_RENEW_MS, reason: 'concurrency 4 reached' });
    expect(renewLease(s, renewal({ limits, want: want(2) }), 15_001).slots).toBe(2);
    expect(describeLimiter(s, 15_001).holders).toBe(1);
  });

  test('throttles reported in aggregate: one congestion event, the limit goes below the fleet level and the model pauses; successes grow it back', () => {
    const s = fresh();
    const limits = { adaptiveMax: 20 };
    renewLease(s, renewal({ holder: 'w2', limits, inFlight: 6, want: want(10) }), 0);
    renewLease(s, renewal({ limits, inFlight: 0, want: want(10) }), 0);
    // w1 reports 5 throttles of calls sent at ~0, while the fleet ran 6 + 6.
    const g = renewLease(
      s,
      renewal({ limits, inFlight: 6, want: want(10), usage: { success: 0, throttled: 5, throttledSentAt: 0, retryAfterMs: 2000, inputRefund: 0, outputRefund: 0 } }),
      500,
    );
    expect(g.limit).toBe(11);
    // Paused for the retry-after and w2 holds 10 of the 11: w1's lease shrinks to 1 (its 6 running
    // calls may finish, nothing new starts), and it is told when to come back.
    expect(g).toMatchObject({ slots: 1, retryAfterMs: 2000, reason: 'paused after a rate-limit answer' });
    expect(describeLimiter(s, 500).models.m.ceiling).toBe(12);
    // After the pause, successes add back slowly next to the ceiling.
    const later = renewLease(s, renewal({ limits, inFlight: 0, want: want(10), usage: { success: 40, throttled: 0, inputRefund: 0, outputRefund: 0 } }), 3000);
    expect(later.limit).toBeGreaterThanOrEqual(11);
    expect(later.retryAfterMs).toBeUndefined();
  });

  test('a renewal delivered twice (same id) gets the same answer and is not applied again', () => {
    const s = fresh();
    const limits = { adaptiveMax: 10, rpm: 100 };
    const r = renewal({ limits, want: want(3, 30) });
    const a = renewLease(s, r, 0);
    const b = renewLease(s, r, 10);
    expect(b).toEqual(a);
    expect(describeLimiter(s, 10).models.m.buckets).toEqual({ rpm: 70 });
    expect(s.renewals).toBe(1);
  });
});

describe('lease: rate quota from token buckets', () => {
  test("quota comes out of a bucket that refills continuously; what is not used and the reservations' corrections go back", () => {
    const s = fresh();
    const limits = { itpm: 1000, otpm: 500 };
    const g = renewLease(s, renewal({ limits, want: want(0, 5, 400, 300), first: { input: 80, output: 60 } }), 0);
    expect(g).toMatchObject({ slots: null, requests: null, input: 400, output: 300 });
    // Two calls ran (160 input estimated, 120 output reserved): they used 100 input and 20 output;
    // 240 input and 180 output were never taken.
    renewLease(
      s,
      renewal({ limits, want: want(0), returned: { requests: 0, input: 240, output: 180 }, usage: { success: 2, throttled: 0, inputRefund: 60, outputRefund: 100 } }),
      1000,
    );
    // 1000 - 400 + 100 (1 s of refill) + 240 + 60, capped at 1000; 500 - 300 + 50 + 180 + 100 = 530 → 500.
    expect(describeLimiter(s, 1000).models.m.buckets).toEqual({ itpm: 1000, otpm: 500 });
  });

  test('never more than the limit granted within any window, however full the bucket (a per-minute limit read strictly); what comes back counts off', () => {
    const s = fresh();
    const limits = { rpm: 10 };
    const first = { input: 1, output: 1 };
    expect(renewLease(s, renewal({ limits, want: want(0, 10), first }), 0).requests).toBe(10);
    // 5 s later the bucket holds 5 again, but 10 were granted within the window: nothing yet.
    expect(renewLease(s, renewal({ holder: 'b', limits, want: want(0, 5), first }), 5000)).toMatchObject({ requests: 0, reason: '10 requests per window reached' });
    // The first holder hands 4 back unused: they count off its grant, and b gets them.
    renewLease(s, renewal({ limits, want: want(0), returned: { requests: 4, input: 0, output: 0 } }), 5100);
    expect(renewLease(s, renewal({ holder: 'b', limits, want: want(0, 5), first }), 5200).requests).toBe(4);
    // Once the first grant has left the window, only b's 4 count: c gets its share (b still wants 5) of what is left.
    expect(renewLease(s, renewal({ holder: 'c', limits, want: want(0, 10), first }), 10_600).requests).toBe(3);
  });

  test("the exception for a holder's first waiting call does not step over the window: a full window refuses it until its grants leave", () => {
    const s = fresh();
    const limits = { rpm: 10 };
    const first = { input: 1, output: 1 };
    // a takes the whole window and spends it (its next renewal hands nothing back).
    expect(renewLease(s, renewal({ holder: 'a', limits, want: want(0, 10), first }), 0).requests).toBe(10);
    renewLease(s, renewal({ holder: 'a', limits, want: want(0), usage: { success: 10, throttled: 0, inputRefund: 0, outputRefund: 0 } }), 4000);
    // At 6 s the bucket has refilled 6, but 10 were granted within the window: b waits until they leave (at 10 s).
    expect(renewLease(s, renewal({ holder: 'b', limits, want: want(0, 1), first }), 6000)).toMatchObject({ requests: 0, retryAfterMs: 4500 });
    expect(renewLease(s, renewal({ holder: 'b', limits, want: want(0, 1), first }), 10_600).requests).toBe(1);
  });

  test('under contention each holder gets a share by demand, at least its first call when it fits; otherwise nothing, and when to come back', () => {
    const s = fresh();
    const limits = { rpm: 10 };
    expect(renewLease(s, renewal({ holder: 'a', limits, want: want(0, 8), first: { input: 1, output: 1 } }), 0).requests).toBe(8);
    // 2 left; b wants 8: the fleet wants 16 of 2 → b gets 1 (its share), enough for its first call.
    expect(renewLease(s, renewal({ holder: 'b', limits, want: want(0, 8), first: { input: 1, output: 1 } }), 0)).toMatchObject({ requests: 1, renewInMs: CONTENDED_RENEW_MS });
    renewLease(s, renewal({ holder: 'c', limits, want: want(0, 8), first: { input: 1, output: 1 } }), 0);
    // Empty now: nothing, and when to come back: the bucket refills one request in 1 s, but the
    // window holds the 10 granted at 0 until they leave it (10 s + its 0.5 s slot).
    expect(renewLease(s, renewal({ holder: 'd', limits, want: want(0, 8), first: { input: 1, output: 1 } }), 0)).toMatchObject({
      requests: 0,
      retryAfterMs: 10_500,
      reason: '10 requests per window reached',
    });
  });

  test('quota the first call cannot use is not handed out; a call larger than the whole bucket goes alone once it is full', () => {
    const s = fresh();
    const limits = { rpm: 100, itpm: 1000 };
    renewLease(s, renewal({ holder: 'a', limits, want: want(0, 1, 900), first: { input: 900, output: 1 } }), 0);
    const g = renewLease(s, renewal({ limits, want: want(0, 1, 500), first: { input: 500, output: 1 } }), 0);
    // The bucket has 500 again after 4 s, but 900 of the window's 1,000 stay granted until 10.5 s.
    expect(g).toMatchObject({ requests: 0, input: 0, retryAfterMs: 10_500 });
    expect(describeLimiter(s, 0).models.m.buckets).toEqual({ rpm: 99, itpm: 100 });
    // A 5,000-token call against a 1,000-token bucket: granted the whole bucket when it is full.
    const big = fresh();
    expect(renewLease(big, renewal({ limits, want: want(0, 1, 5000), first: { input: 5000, output: 1 } }), 0).input).toBe(1000);
  });

  test('a holder that only asks again for what cannot be granted is refused in the validator (nothing recorded); one reporting usage is applied', () => {
    const s = fresh();
    const limits = { rpm: 2 };
    renewLease(s, renewal({ limits, want: want(0, 2), first: { input: 1, output: 1 } }), 0);
    const again = renewal({ limits, want: want(0, 2), first: { input: 1, output: 1 } });
    renewLease(s, again, 10);
    const repeat = renewal({ limits, want: want(0, 2), first: { input: 1, output: 1 } });
    expect(leaseRefusal(s, repeat, 20)).toMatchObject({ reason: '2 requests per window reached' });
    expect(leaseRefusal(s, { ...repeat, usage: { success: 2, throttled: 0, inputRefund: 0, outputRefund: 0 } }, 20)).toBeUndefined();
    // The check changed nothing.
    expect(s.renewals).toBe(2);
  });
});

describe('lease and permits share the limits during a rolling deploy', () => {
  test('with leasing on, permits count leased slots and spend from the same buckets; settles give back what they did not use', () => {
    const s = fresh();
    const limits = { adaptiveMax: 4, itpm: 1000 };
    renewLease(s, renewal({ limits, want: want(3, 0, 600), first: { input: 200, output: 1 } }), 0);
    const r = acquireBatch(
      s,
      {
        model: 'm',
        limits,
        windowMs: 10_000,
        leaseMs: 60_000,
        requests: [
          { inputTokens: 300, maxOutputTokens: 10 },
          { inputTokens: 10, maxOutputTokens: 10 },
        ],
      },
      0,
    );
    // One slot left of 4 (3 leased), and 400 tokens left in the bucket for the 300-token permit.
    expect(r.permitIds).toHaveLength(1);
    expect(r.reason).toBe('concurrency 4 reached');
    expect(describeLimiter(s, 0).models.m.buckets).toEqual({ itpm: 100 });
    settle(s, { permitId: r.permitIds[0], outcome: 'success', tokens: { input: 120, output: 5 } }, 10);
    expect(describeLimiter(s, 10).models.m.buckets.itpm).toBe(280);
    // And the lease sees the permit in flight until it settles.
    const t = fresh();
    acquireBatch(
      t,
      {
        model: 'm',
        limits,
        windowMs: 10_000,
        leaseMs: 60_000,
        requests: [
          { inputTokens: 1, maxOutputTokens: 1 },
          { inputTokens: 1, maxOutputTokens: 1 },
        ],
      },
      0,
    );
    expect(renewLease(t, renewal({ limits, want: want(4, 0, 10) }), 0).slots).toBe(2);
  });
});

describe('lease state and cost at fleet scale', () => {
  test('20 workers, 5,000 calls a minute for 5 minutes: a renewal per ~50 calls, state bounded by workers, the buckets hold', () => {
    const s = fresh();
    const limits = { rpm: 6000, itpm: 3_000_000, otpm: 10_000_000, adaptiveMax: 400 };
    const windowMs = 60_000;
    type Call = { until: number; input: number; output: number };
    const workers = Array.from({ length: 20 }, (_, i) => ({
      id: `worker-${i}`,
      waiting: 0,
      running: [] as Call[],
      slots: 0,
      quota: { requests: 0, input: 0, output: 0 },
      usage: { success: 0, throttled: 0, inputRefund: 0, outputRefund: 0 },
      nextRenew: 0,
      notBefore: 0,
      lastRenew: -1000,
      arrivals: 0,
      rate: 0,
    }));
    let renewals = 0;
    let admitted = 0;
    let maxBytes = 0;
    const sent: number[] = [];
    const renew = (w: (typeof workers)[number], now: number) => {
      w.rate = 0.5 * w.rate + 0.5 * (w.arrivals / Math.max(1, now - w.lastRenew));
      w.arrivals = 0;
      const ahead = Math.min(100, Math.ceil(w.rate * (w.nextRenew - w.lastRenew || 5000) * 1.25));
      const g = renewLease(
        s,
        {
          id: `r${renewals}`,
          holder: w.id,
          model: 'claude-sonnet-4-6',
          limits,
          windowMs,
          leaseMs: 15_000,
          inFlight: w.running.length,
          want: { slots: w.running.length + w.waiting, requests: w.waiting, input: w.waiting * 50, output: w.waiting * 1024 },
          ahead: { slots: Math.min(ahead, Math.ceil(w.rate * 1000)), requests: ahead, input: ahead * 50, output: ahead * 1024 },
          ...(w.waiting ? { first: { input: 50, output: 1024 } } : {}),
          returned: { ...w.quota },
          usage: { ...w.usage },
        },
        now,
      );
      renewals++;
      w.lastRenew = now;
      w.usage = { success: 0, throttled: 0, inputRefund: 0, outputRefund: 0 };
      w.slots = g.slots!;
      w.quota = { requests: g.requests!, input: g.input!, output: g.output! };
      w.notBefore = g.retryAfterMs ? now + g.retryAfterMs : 0;
      w.nextRenew = now + g.renewInMs;
    };
    for (let now = 0; now < 5 * 60_000; now += 20) {
      // One of 20 workers gets ~1.7 calls every 20 ms: 5,000 a minute; each call takes 3 s.
      const w = workers[(now / 20) % 20];
      const n = (now / 20) % 3 === 0 ? 1 : 2;
      w.waiting += n;
      w.arrivals += n;
      for (const x of workers) {
        for (const c of x.running.filter((c) => c.until <= now)) {
          x.usage.success++;
          x.usage.outputRefund += 1024 - c.output;
        }
        x.running = x.running.filter((c) => c.until > now);
        while (x.waiting && x.running.length < x.slots && x.quota.requests >= 1 && x.quota.input >= 50 && x.quota.output >= 1024) {
          x.waiting--;
          x.quota.requests--;
          x.quota.input -= 50;
          x.quota.output -= 1024;
          x.running.push({ until: now + 3000, input: 50, output: 200 });
          sent.push(now);
          admitted++;
        }
        const due = x.nextRenew <= now || (x.waiting > 0 && now >= Math.max(x.notBefore, x.lastRenew + 200));
        if (due && (x.waiting || x.running.length || x.slots || x.usage.success)) renew(x, now);
      }
      if (now % 10_000 === 0) maxBytes = Math.max(maxBytes, JSON.stringify(s).length);
    }
    // Every call admitted within a moment (a few still waiting at the end), the rpm bucket never
    // exceeded (capacity + refill over any span from the start), in about one renewal per ~50 calls.
    expect(admitted).toBeGreaterThan(24_900);
    const perMs = limits.rpm / windowMs;
    for (let i = 0; i < sent.length; i += 97) expect(i + 1).toBeLessThanOrEqual(limits.rpm + sent[i] * perMs + 1);
    console.log(
      `lease protocol at 5,000 calls/min from 20 workers: ${renewals} renewals for ${admitted} calls (${(renewals / admitted).toFixed(3)} per call), max ${(maxBytes / 1024).toFixed(1)} KB carried`,
    );
    expect(renewals / admitted).toBeLessThan(0.1);
    expect(maxBytes).toBeLessThan(20_000);
  });
});
