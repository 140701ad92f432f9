/**
 * The Anthropic API's rate limits, emulated for the local LLM server: token buckets per API key
 * and model for requests, input tokens and output tokens (and, when set, combined tokens), each
 * holding up to its per-window limit and refilling continuously at limit per window. A request
 * takes 1 request, its input tokens and its max_tokens of output at admission; when it ends, the
 * output it did not use is given back. Every answer carries
 * `anthropic-ratelimit-<bucket>-limit|remaining|reset` (reset: RFC 3339, when the bucket is full
 * again); a request that does not fit gets 429 `rate_limit_error` with `retry-after` (whole
 * seconds until it would fit) and nothing is taken.
 */

/** Limits per window (a minute, like the real API, unless a test scales it down). */
export interface RateLimits {
  rpm?: number;
  itpm?: number;
  otpm?: number;
  /** Combined input + output tokens per window. */
  tpm?: number;
  windowMs?: number;
}

type Name = 'requests' | 'input-tokens' | 'output-tokens' | 'tokens';

interface Bucket {
  limit: number;
  level: number;
  at: number;
}

/** What a request takes. */
export interface RateNeed {
  input: number;
  maxOutput: number;
}

/** The outcome of admitting one request. */
export type Admission =
  | { ok: true; headers: Record<string, string>; /** Gives back output tokens the request did not use. */ finish(outputUsed: number): void }
  | { ok: false; headers: Record<string, string>; bucket: Name; limit: number };

/** Buckets of every key and model under one set of limits. */
export class LocalRateLimiter {
  private readonly buckets = new Map<string, Partial<Record<Name, Bucket>>>();

  constructor(
    private readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  private get windowMs(): number {
    return this.limits.windowMs ?? 60_000;
  }

  private of(key: string, model: string): Partial<Record<Name, Bucket>> {
    const id = `${key}\u0000${model}`;
    let b = this.buckets.get(id);
    if (!b) {
      const t = this.now();
      const mk = (limit?: number) => (limit && limit > 0 ? { limit, level: limit, at: t } : undefined);
      b = Object.fromEntries(
        (
          [
            ['requests', mk(this.limits.rpm)],
            ['input-tokens', mk(this.limits.itpm)],
            ['output-tokens', mk(this.limits.otpm)],
            ['tokens', mk(this.limits.tpm)],
          ] as [Name, Bucket | undefined][]
        ).filter(([, v]) => v),
      );
      this.buckets.set(id, b);
    }
    return b;
  }

  private refill(b: Bucket, now: number): void {
    b.level = Math.min(b.limit, b.level + ((now - b.at) * b.limit) / this.windowMs);
    b.at = now;
  }

  private static needOf(name: Name, n: RateNeed): number {
    return name === 'requests' ? 1 : name === 'input-tokens' ? n.input : name === 'output-tokens' ? n.maxOutput : n.input + n.maxOutput;
  }

  private headers(b: Partial<Record<Name, Bucket>>, now: number): Record<string, string> {
    const h: Record<string, string> = {};
    for (const [name, x] of Object.entries(b) as [Name, Bucket][]) {
      h[`anthropic-ratelimit-${name}-limit`] = String(x.limit);
      h[`anthropic-ratelimit-${name}-remaining`] = String(Math.max(0, Math.floor(x.level)));
      const fullIn = ((x.limit - x.level) * this.windowMs) / x.limit;
      h[`anthropic-ratelimit-${name}-reset`] = new Date(now + Math.max(0, Math.ceil(fullIn))).toISOString();
    }
    return h;
  }

  /** Admits a request (taking its need) or refuses it with when to retry. */
  admit(key: string, model: string, need: RateNeed): Admission {
    const b = this.of(key, model);
    const now = this.now();
    let waitMs = 0;
    let refused: { name: Name; limit: number } | undefined;
    for (const [name, x] of Object.entries(b) as [Name, Bucket][]) {
      this.refill(x, now);
      const want = LocalRateLimiter.needOf(name, need);
      if (want > x.level) {
        // A need above the limit can never fit: the real API answers that with a 429 too.
        const w = want > x.limit ? this.windowMs : ((want - x.level) * this.windowMs) / x.limit;
        if (w > waitMs) {
          waitMs = w;
          refused = { name, limit: x.limit };
        }
      }
    }
    if (refused) {
      return { ok: false, bucket: refused.name, limit: refused.limit, headers: { ...this.headers(b, now), 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) } };
    }
    for (const [name, x] of Object.entries(b) as [Name, Bucket][]) x.level -= LocalRateLimiter.needOf(name, need);
    const headers = this.headers(b, now);
    return {
      ok: true,
      headers,
      finish: (outputUsed: number) => {
        const back = Math.max(0, need.maxOutput - outputUsed);
        const t = this.now();
        for (const name of ['output-tokens', 'tokens'] as Name[]) {
          const x = b[name];
          if (!x) continue;
          this.refill(x, t);
          x.level = Math.min(x.limit, x.level + back);
        }
      },
    };
  }
}

/** The 429 message the real API gives, naming the limit. */
export function rateLimitMessage(bucket: Name, limit: number): string {
  const what = bucket === 'requests' ? 'requests' : bucket === 'input-tokens' ? 'input tokens' : bucket === 'output-tokens' ? 'output tokens' : 'tokens';
  return `This request would exceed the rate limit for your organization of ${limit} ${what} per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.`;
}
