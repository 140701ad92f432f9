/**
 * Flow control learned from the provider, as pure logic (time comes from the caller, no I/O):
 *
 * - `parseRateLimitHeaders`: the Anthropic API's `anthropic-ratelimit-*` headers (limit, remaining
 *   and RFC 3339 reset of the requests, input-tokens, output-tokens and tokens buckets).
 * - `LearnedBuckets`: the provider's token buckets as last advertised, refilled continuously at
 *   limit per window, with this process's own reservations taken out until the next answer
 *   says where the bucket really is. `waitMs` says how long until a request fits.
 * - `AdaptiveLimit`: the allowed concurrency. Slow start (each success adds 1, so the window
 *   doubles per round trip) from `initial` until the first throttle; then AIMD: on a 429/529 it
 *   drops below the concurrency the throttled request was sent at and by BACKOFF once per
 *   congestion event; each success adds 1/limit, 8× less next to the level last throttled.
 */

/**
 * How long one call may keep waiting for flow control and being throttled (429, 529), from its
 * first schedule, unless the run or LLM_THROTTLE_DEADLINE_MS says otherwise.
 */
export const DEFAULT_THROTTLE_DEADLINE_MS = 10 * 60_000;

/** How long a throttled call waits when the answer carried no retry-after. */
export const DEFAULT_THROTTLE_WAIT_MS = 1000;

/** One of the provider's buckets, as an answer advertised it. */
export interface BucketHeader {
  limit: number;
  remaining: number;
  /** When the bucket is full again (epoch ms), if given. */
  resetAt?: number;
}

/** The buckets an answer advertised. */
export interface RateLimitHeaders {
  requests?: BucketHeader;
  inputTokens?: BucketHeader;
  outputTokens?: BucketHeader;
  /** The combined tokens bucket some accounts have. */
  tokens?: BucketHeader;
}

export type BucketName = keyof RateLimitHeaders;
const BUCKETS: [BucketName, string][] = [
  ['requests', 'requests'],
  ['inputTokens', 'input-tokens'],
  ['outputTokens', 'output-tokens'],
  ['tokens', 'tokens'],
];

/** Reads `anthropic-ratelimit-<bucket>-limit|remaining|reset`; malformed values are ignored. */
export function parseRateLimitHeaders(get: (name: string) => string | null | undefined): RateLimitHeaders {
  const out: RateLimitHeaders = {};
  for (const [key, name] of BUCKETS) {
    const limit = Number(get(`anthropic-ratelimit-${name}-limit`));
    const remaining = Number(get(`anthropic-ratelimit-${name}-remaining`));
    if (!Number.isFinite(limit) || limit <= 0 || !Number.isFinite(remaining) || remaining < 0 || get(`anthropic-ratelimit-${name}-limit`) == null) continue;
    const reset = Date.parse(get(`anthropic-ratelimit-${name}-reset`) ?? '');
    out[key] = { limit, remaining: Math.min(remaining, limit), ...(Number.isFinite(reset) ? { resetAt: reset } : {}) };
  }
  return out;
}

/** What one request needs from the buckets. */
export interface BucketNeed {
  inputTokens: number;
  /** Output is reserved from max_tokens at the start of a request (and corrected at its end). */
  maxOutputTokens: number;
}

interface Bucket {
  limit: number;
  /** Level at `at`, this process's reservations since the last answer taken out. */
  level: number;
  at: number;
}

/** Reservations remembered to correct an answer that predates them (bounded). */
const MAX_RESERVATIONS = 10_000;

/**
 * The provider's buckets for one model as this process knows them. An answer's headers describe
 * the buckets when its request was admitted; requests this process sent after that are not in
 * them yet, so they are taken out again (conservative when the provider counted them already).
 */
/** A bucket's level at `now`: refilled continuously at `capacity` per window, never above it. */
export function refilled(level: number, at: number, capacity: number, windowMs: number, now: number): number {
  return Math.min(capacity, level + (Math.max(0, now - at) * capacity) / windowMs);
}

export class LearnedBuckets {
  private readonly buckets: Partial<Record<BucketName, Bucket>> = {};
  private readonly sent: { at: number; need: BucketNeed }[] = [];
  /** The send time of the request whose answer was last synced: older answers are stale. */
  private syncedFrom = -Infinity;

  /** Configured limits (LLM_RPM, LLM_ITPM, LLM_OTPM): this process's own buckets, ceilings over the advertised ones. */
  private readonly configured: Partial<Record<BucketName, Bucket>> = {};

  /** `windowMs`: what the limits are per (a minute; tests scale it down). */
  constructor(
    private readonly windowMs = 60_000,
    ceilings: Partial<Record<BucketName, number | undefined>> = {},
    now = 0,
  ) {
    for (const [name, limit] of Object.entries(ceilings) as [BucketName, number | undefined][]) {
      if (limit && limit > 0) this.configured[name] = { limit, level: limit, at: now };
    }
  }

  /** True once an answer advertised at least one bucket. */
  get known(): boolean {
    return Object.keys(this.buckets).length > 0;
  }

  /** The limits as advertised (for metrics and logs), not this process's share of them. */
  limits(): Partial<Record<BucketName, number>> {
    return { ...this.advertised };
  }
  private readonly advertised: Partial<Record<BucketName, number>> = {};

  private levelAt(b: Bucket, now: number): number {
    return refilled(b.level, b.at, b.limit, this.windowMs, now);
  }

  private needOf(name: BucketName, n: BucketNeed): number {
    return name === 'requests' ? 1 : name === 'inputTokens' ? n.inputTokens : name === 'outputTokens' ? n.maxOutputTokens : n.inputTokens + n.maxOutputTokens;
  }

  /** How long until `need` fits every known bucket (0: now). A need above a bucket's limit waits for a full bucket. */
  waitMs(need: BucketNeed, now: number): number {
    let wait = 0;
    for (const [name, b] of [...Object.entries(this.buckets), ...Object.entries(this.configured)] as [BucketName, Bucket][]) {
      const want = Math.min(this.needOf(name, need), b.limit);
      const level = this.levelAt(b, now);
      if (level < want) wait = Math.max(wait, Math.ceil(((want - level) * this.windowMs) / b.limit));
    }
    return wait;
  }

  /** Takes a request's need out of the buckets as it is sent. */
  reserve(need: BucketNeed, now: number): void {
    for (const [name, b] of [...Object.entries(this.buckets), ...Object.entries(this.configured)] as [BucketName, Bucket][]) {
      b.level = this.levelAt(b, now) - this.needOf(name, need);
      b.at = now;
    }
    this.sent.push({ at: now, need });
    if (this.sent.length > MAX_RESERVATIONS) this.sent.splice(0, this.sent.length - MAX_RESERVATIONS);
  }

  /**
   * The answer to a request sent at `sentAt` said where the buckets were then: refilled since,
   * minus what this process sent after it. An answer older than the last one synced is ignored.
   * `share` is this process's part of the fleet (1 / the number of worker processes calling the
   * provider with the same key): every process sees the same advertised buckets, so each paces
   * to its share of their level and refill, and together they stay under what is advertised.
   */
  sync(h: RateLimitHeaders, sentAt: number, now: number, share = 1): void {
    if (sentAt < this.syncedFrom) return;
    this.syncedFrom = sentAt;
    const i = this.sent.findIndex((r) => r.at > sentAt);
    const later = i < 0 ? [] : this.sent.slice(i);
    if (i > 0) this.sent.splice(0, i);
    const s = Math.min(1, Math.max(0.001, share));
    for (const [name] of BUCKETS) {
      const raw = h[name];
      if (!raw) continue;
      this.advertised[name] = raw.limit;
      const adv = { limit: raw.limit * s, remaining: raw.remaining * s };
      const since = later.reduce((n, r) => n + this.needOf(name, r.need), 0);
      this.buckets[name] = { limit: adv.limit, level: refilled(adv.remaining, sentAt, adv.limit, this.windowMs, now) - since, at: now };
    }
  }

  /** A request used less than it reserved (output below max_tokens): the configured buckets get the rest back. */
  refund(need: BucketNeed, used: { input: number; output: number }, now: number): void {
    for (const [name, b] of Object.entries(this.configured) as [BucketName, Bucket][]) {
      const back = this.needOf(name, need) - this.needOf(name, { inputTokens: used.input, maxOutputTokens: used.output });
      if (name === 'requests' || back <= 0) continue;
      b.level = Math.min(b.limit, this.levelAt(b, now) + back);
      b.at = now;
    }
  }
}

/** Backoff factor per congestion event (Netflix concurrency-limits' AIMD default). */
export const BACKOFF = 0.9;
/** Additive growth next to the level last throttled is this many times slower. */
export const PROBE_SLOWDOWN = 8;

/**
 * The AIMD state of one model's concurrency, shared by this process's flow control and the
 * fleet's `llmLimiter` (whose state is plain JSON carried across continue-as-new).
 */
export interface AimdState {
  limit: number;
  /** The lowest concurrency (the call included) that drew a 429/529 since a success at that level. */
  ceiling?: number;
  /** When the limit last dropped: throttles of calls sent before it are the same congestion event. */
  lastDecreaseAt?: number;
  /** Until the first throttle each success adds 1 (the window doubles per round trip). */
  slowStart?: boolean;
}

/** A success of a call sent at concurrency `level` (itself included); the limit grows at most to `max`. */
export function aimdSuccess(s: AimdState, level: number, max = Infinity): void {
  // The provider took `level` calls at once: a ceiling at or below that is out of date.
  if (s.ceiling !== undefined && level >= s.ceiling) s.ceiling = level + 1;
  if (s.slowStart) {
    s.limit = Math.min(max, s.limit + 1);
    return;
  }
  const probing = s.ceiling !== undefined && Math.floor(s.limit) + 1 >= s.ceiling;
  s.limit = Math.min(max, s.limit + 1 / (Math.max(1, s.limit) * (probing ? PROBE_SLOWDOWN : 1)));
}

/** A 429/529 of a call sent at `sentAt` at concurrency `level`. */
export function aimdThrottled(s: AimdState, level: number, sentAt: number, now: number): void {
  if (s.slowStart) s.slowStart = false;
  // Decrease once per congestion event (as TCP does once per round trip): the other throttles of
  // calls already in flight when the limit dropped say nothing new...
  if (sentAt >= (s.lastDecreaseAt ?? -Infinity)) {
    s.limit = Math.max(1, s.limit * BACKOFF);
    s.lastDecreaseAt = now;
  }
  // ...except the level: the provider refused `level` calls at once, so the limit goes below that
  // at once instead of backing off its way down over several events.
  s.limit = Math.max(1, Math.min(s.limit, level - 1));
  s.ceiling = Math.min(s.ceiling ?? Infinity, level);
}

/** Allowed concurrency of one model in this process: slow start, then AIMD (see aimdSuccess/aimdThrottled). */
export class AdaptiveLimit {
  private readonly s: AimdState;

  constructor(
    initial: number,
    /** The most it may grow to (LLM_ADAPTIVE_MAX or the default ceiling). */
    readonly max: number,
  ) {
    this.s = { limit: Math.min(initial, max), slowStart: true };
  }

  get limit(): number {
    return this.s.limit;
  }

  get slowStart(): boolean {
    return this.s.slowStart === true;
  }

  get ceiling(): number | undefined {
    return this.s.ceiling;
  }

  /** Whole calls allowed at once. */
  get allowed(): number {
    return Math.max(1, Math.floor(this.s.limit));
  }

  /** A success of a call sent at concurrency `level` (itself included). */
  success(level: number): void {
    aimdSuccess(this.s, level, this.max);
  }

  /** A 429/529 of a call sent at `sentAt` at concurrency `level`. */
  throttled(level: number, sentAt: number, now: number): void {
    aimdThrottled(this.s, level, sentAt, now);
  }
}
