/** Flow control learned from the provider (pure logic), and the local server's emulation of the API's rate limits. */
import { AdaptiveLimit, LearnedBuckets, parseRateLimitHeaders } from '../../src/core/flow';
import { FlowController } from '../../src/llm/flow';
import { LocalRateLimiter } from '../../src/testing';
import { flowFromMetrics, workerFlowLines } from '../../src/cli/worker-flow';

const headers = (h: Record<string, string>) => (n: string) => h[n];

describe('parseRateLimitHeaders', () => {
  test('reads every bucket with its RFC 3339 reset; ignores malformed ones', () => {
    const r = parseRateLimitHeaders(
      headers({
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '49',
        'anthropic-ratelimit-requests-reset': '2026-12-01T10:00:01Z',
        'anthropic-ratelimit-input-tokens-limit': '30000',
        'anthropic-ratelimit-input-tokens-remaining': '29000',
        'anthropic-ratelimit-output-tokens-limit': 'lots',
        'anthropic-ratelimit-output-tokens-remaining': '1',
      }),
    );
    expect(r.requests).toEqual({ limit: 50, remaining: 49, resetAt: Date.parse('2026-12-01T10:00:01Z') });
    expect(r.inputTokens).toEqual({ limit: 30000, remaining: 29000 });
    expect(r.outputTokens).toBeUndefined();
    expect(parseRateLimitHeaders(() => undefined)).toEqual({});
  });
});

describe('LearnedBuckets', () => {
  test('unknown until an answer; then a request waits until it fits the refilling bucket', () => {
    const b = new LearnedBuckets(60_000);
    expect(b.waitMs({ inputTokens: 1e9, maxOutputTokens: 1 }, 0)).toBe(0);
    b.sync({ inputTokens: { limit: 600, remaining: 100 } }, 0, 0);
    expect(b.known).toBe(true);
    expect(b.waitMs({ inputTokens: 100, maxOutputTokens: 1 }, 0)).toBe(0);
    // 300 tokens need 200 more at 10 tokens/s: 20 s.
    expect(b.waitMs({ inputTokens: 300, maxOutputTokens: 1 }, 0)).toBe(20_000);
    b.reserve({ inputTokens: 100, maxOutputTokens: 1 }, 0);
    expect(b.waitMs({ inputTokens: 10, maxOutputTokens: 1 }, 0)).toBe(1000);
    // More than the limit waits for a full bucket, not forever.
    expect(b.waitMs({ inputTokens: 5000, maxOutputTokens: 1 }, 0)).toBe(60_000);
  });

  test('an answer predating later sends counts them out; an older answer than the last synced is ignored', () => {
    const b = new LearnedBuckets(60_000);
    b.sync({ requests: { limit: 60, remaining: 60 } }, 0, 0);
    b.reserve({ inputTokens: 1, maxOutputTokens: 1 }, 1000); // request A
    b.reserve({ inputTokens: 1, maxOutputTokens: 1 }, 2000); // request B
    // A's answer: the provider saw 59 left when A came in; B was sent after A: 58, plus 1 s of refill.
    b.sync({ requests: { limit: 60, remaining: 59 } }, 1000, 2000);
    expect(b.waitMs({ inputTokens: 0, maxOutputTokens: 0 }, 2000)).toBe(0);
    b.sync({ requests: { limit: 60, remaining: 0 } }, 2000, 2000); // B's answer: empty
    expect(b.waitMs({ inputTokens: 0, maxOutputTokens: 0 }, 2000)).toBe(1000);
    b.sync({ requests: { limit: 60, remaining: 60 } }, 1000, 2000); // stale
    expect(b.waitMs({ inputTokens: 0, maxOutputTokens: 0 }, 2000)).toBe(1000);
  });

  test('in a fleet of N processes each paces to 1/N of the advertised level and refill', () => {
    const b = new LearnedBuckets(60_000);
    b.sync({ inputTokens: { limit: 600, remaining: 600 } }, 0, 0, 1 / 2);
    expect(b.waitMs({ inputTokens: 300, maxOutputTokens: 1 }, 0)).toBe(0);
    b.reserve({ inputTokens: 300, maxOutputTokens: 1 }, 0);
    // This process's half is spent; 150 more come at its half of the refill (5 tokens/s): 30 s.
    expect(b.waitMs({ inputTokens: 150, maxOutputTokens: 1 }, 0)).toBe(30_000);
    expect(b.limits()).toEqual({ inputTokens: 600 }); // what the provider advertises, not the share
  });

  test('configured limits are ceilings from the start, and unused output comes back', () => {
    const b = new LearnedBuckets(60_000, { outputTokens: 1000 }, 0);
    expect(b.waitMs({ inputTokens: 0, maxOutputTokens: 1000 }, 0)).toBe(0);
    b.reserve({ inputTokens: 0, maxOutputTokens: 1000 }, 0);
    expect(b.waitMs({ inputTokens: 0, maxOutputTokens: 500 }, 0)).toBe(30_000);
    b.refund({ inputTokens: 0, maxOutputTokens: 1000 }, { input: 0, output: 200 }, 0);
    expect(b.waitMs({ inputTokens: 0, maxOutputTokens: 500 }, 0)).toBe(0);
    // A provider advertising more does not lift the ceiling.
    b.sync({ outputTokens: { limit: 100_000, remaining: 100_000 } }, 0, 0);
    expect(b.waitMs({ inputTokens: 0, maxOutputTokens: 900 }, 0)).toBeGreaterThan(0);
  });
});

describe('AdaptiveLimit', () => {
  test('slow start doubles per round trip until the first throttle, then drops below the refused level', () => {
    const l = new AdaptiveLimit(4, 1000);
    for (let i = 1; i <= 4; i++) l.success(i);
    expect(l.allowed).toBe(8);
    l.throttled(9, 10, 20);
    expect(l.slowStart).toBe(false);
    expect(l.allowed).toBe(7);
    // Other throttles of the same event (sent before the decrease) do not decrease again.
    l.throttled(8, 5, 21);
    expect(l.allowed).toBe(7);
    // Growth resumes slowly next to the ceiling.
    for (let i = 0; i < 7; i++) l.success(7);
    expect(l.allowed).toBe(7);
    expect(new AdaptiveLimit(50, 10).allowed).toBe(10);
  });
});

describe('FlowController', () => {
  test('in a fleet of N processes each starts at 1/N of the initial window (the fleet opens at one window in all), then grows on its own', async () => {
    const f = new FlowController({ initialConcurrency: 16, fleetSize: () => 4 });
    const ac = new AbortController();
    const slots = await Promise.all(Array.from({ length: 4 }, () => f.acquire('m', { inputTokens: 1, maxOutputTokens: 1 }, ac.signal)));
    expect(f.status()[0]).toMatchObject({ concurrencyLimit: 4, inFlight: 4, slowStart: true });
    for (const s of slots) s.release({ outcome: 'success' });
    // Slow start: each success adds one.
    expect(f.status()[0].concurrencyLimit).toBe(8);
    // More processes than the window: each starts at one call.
    const big = new FlowController({ initialConcurrency: 16, fleetSize: () => 40 });
    (await big.acquire('m', { inputTokens: 1, maxOutputTokens: 1 }, ac.signal)).release({ outcome: 'unused' });
    expect(big.status()[0].concurrencyLimit).toBe(1);
  });

  test('grants in order up to the adaptive limit; a throttle cuts it; the throttled call waits out its retry-after, others do not', async () => {
    const f = new FlowController({ initialConcurrency: 2 });
    const ac = new AbortController();
    const need = { inputTokens: 1, maxOutputTokens: 1 };
    const a = await f.acquire('m', need, ac.signal);
    const b = await f.acquire('m', need, ac.signal);
    let third = false;
    const c = f.acquire('m', need, ac.signal).then((s) => ((third = true), s));
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false); // 2 in flight
    a.release({ outcome: 'throttled', retryAfterMs: 300 });
    // The limit dropped below the refused level (1): b still holds the only slot.
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    // a asks again, not before its retry-after; c (not throttled) goes first once b is done.
    const t0 = Date.now();
    const again = f.acquire('m', need, ac.signal, t0 + 300);
    b.release({ outcome: 'success' });
    const sc = await c;
    expect(Date.now() - t0).toBeLessThan(200);
    sc.release({ outcome: 'success' });
    (await again).release({ outcome: 'success' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(f.status()[0]).toMatchObject({ model: 'm', throttles: 1, slowStart: false, inFlight: 0, waiting: 0 });
  });

  test('a long retry-after (10 s or more) pauses the whole model', async () => {
    let now = 0;
    const f = new FlowController({ initialConcurrency: 4, now: () => now });
    const need = { inputTokens: 1, maxOutputTokens: 1 };
    (await f.acquire('m', need, new AbortController().signal)).release({ outcome: 'throttled', retryAfterMs: 30_000 });
    expect(f.status()[0].pausedForMs).toBe(30_000);
    now = 30_001;
    expect(f.status()[0].pausedForMs).toBe(0);
  });

  test('a waiter that is cancelled leaves the queue', async () => {
    const f = new FlowController({ initialConcurrency: 1 });
    const need = { inputTokens: 1, maxOutputTokens: 1 };
    const held = await f.acquire('m', need, new AbortController().signal);
    const ac = new AbortController();
    const waiting = f.acquire('m', need, ac.signal);
    ac.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    expect(f.status()[0].waiting).toBe(0);
    held.release({ outcome: 'success' });
  });
});

describe('LocalRateLimiter (the emulated API)', () => {
  test('token buckets per key and model: headers on every answer, 429 with retry-after when a request does not fit, unused output given back', () => {
    let now = Date.parse('2026-12-01T10:00:00Z');
    const l = new LocalRateLimiter({ itpm: 1000, otpm: 600, windowMs: 60_000 }, () => now);
    const a = l.admit('k1', 'm', { input: 400, maxOutput: 300 });
    expect(a.ok).toBe(true);
    expect(a.headers['anthropic-ratelimit-input-tokens-remaining']).toBe('600');
    expect(a.headers['anthropic-ratelimit-output-tokens-remaining']).toBe('300');
    expect(a.headers['anthropic-ratelimit-input-tokens-reset']).toBe('2026-12-01T10:00:24.000Z');
    expect(l.admit('k2', 'm', { input: 1000, maxOutput: 1 }).ok).toBe(true); // another key, its own buckets
    const refused = l.admit('k1', 'm', { input: 100, maxOutput: 400 });
    expect(refused.ok).toBe(false);
    expect(refused.headers['retry-after']).toBe('10'); // 100 more output tokens at 10/s
    if (a.ok) a.finish(100); // used 100 of 300: 200 back
    expect(l.admit('k1', 'm', { input: 100, maxOutput: 400 }).ok).toBe(true);
    now += 60_000;
    expect(l.admit('k1', 'm', { input: 1000, maxOutput: 600 }).ok).toBe(true);
  });
});

describe("client limits: reading a worker's flow state from its metrics", () => {
  test('parses the Prometheus samples it needs, per model and bucket', () => {
    const text = [
      '# HELP llm_flow_concurrency_limit adaptive concurrency limit',
      'llm_flow_concurrency_limit{model="claude-sonnet-4-6",service_name="temporal-core-sdk"} 36',
      'llm_flow_in_flight{model="claude-sonnet-4-6"} 2',
      'llm_flow_waiting{model="claude-sonnet-4-6"} 5',
      'llm_provider_limit{model="claude-sonnet-4-6",bucket="inputTokens"} 30000',
      'llm_throttled_total{model="claude-sonnet-4-6",status="429"} 3',
      'llm_throttled_total{model="claude-sonnet-4-6",status="529"} 1',
      'llm_limiter_failed_open 1',
    ].join('\n');
    expect(flowFromMetrics('http://w1/metrics', text)).toEqual({
      endpoint: 'http://w1/metrics',
      failedOpen: true,
      models: { 'claude-sonnet-4-6': { concurrencyLimit: 36, inFlight: 2, waiting: 5, advertised: { inputTokens: 30000 }, throttled: 4 } },
    });
    expect(workerFlowLines([flowFromMetrics('http://w1/metrics', text)]).join('\n')).toContain(
      'concurrency limit 36, 2 in flight, 5 waiting, 4 throttles waited out; the provider advertises inputTokens 30000 per window',
    );
  });
});
