/**
 * Flow control on by default, in each worker process, per model of one provider endpoint and key
 * (one controller per Anthropic client): no configuration, no Temporal round trip per call.
 *
 * - Concurrency is adaptive (see AdaptiveLimit): slow start from LLM_FLOW_INITIAL_CONCURRENCY,
 *   backing off on 429/529 to below the level the provider refused.
 * - The provider's token buckets are learned from the `anthropic-ratelimit-*` headers of its
 *   answers (see LearnedBuckets), and a call waits until its estimated input tokens and its
 *   max_tokens of output fit, so a run far bigger than the limits is paced instead of throttled.
 * - A throttled call (429/529) waits out the provider's `retry-after` and goes again within the
 *   same activity attempt (the caller's throttle loop), so throttling never uses up the attempts
 *   meant for real errors; a retry-after of 10 s or more pauses the whole model.
 * - Configured limits (LLM_RPM, LLM_ITPM, LLM_OTPM, LLM_ADAPTIVE_MAX, LLM_LIMITS) are ceilings
 *   over what is learned.
 * Waiting calls are granted in arrival order (FIFO) as far as the limits allow.
 */
import { AdaptiveLimit, DEFAULT_THROTTLE_WAIT_MS, LearnedBuckets, type BucketNeed, type RateLimitHeaders } from '../core/flow';
import type { ModelLimits } from '../core/limiter';

/** Defaults of the flow controller. */
export const FLOW_INITIAL_CONCURRENCY = 16;
export const FLOW_MAX_CONCURRENCY = 1000;
/**
 * A retry-after at least this long pauses the whole model (the provider wants quiet); shorter
 * ones are waited out by the throttled call alone while adaptive concurrency and the buckets
 * pace the others.
 */
const MODEL_PAUSE_AFTER_MS = 10_000;

/** How a call that held a slot ended. */
export interface FlowOutcome {
  /** `unused`: it never reached the provider (cancelled while sending). */
  outcome: 'success' | 'throttled' | 'error' | 'unused';
  headers?: RateLimitHeaders;
  retryAfterMs?: number;
  /** What the call really used (corrects the reservation in the configured buckets). */
  tokens?: { input: number; output: number };
}

/** A granted slot; release it exactly once. */
export interface FlowSlot {
  release(o: FlowOutcome): void;
}

/** One model's state, for `client limits`, metrics and logs. */
export interface FlowModelStatus {
  model: string;
  concurrencyLimit: number;
  slowStart: boolean;
  ceiling?: number;
  inFlight: number;
  waiting: number;
  pausedForMs: number;
  throttles: number;
  advertised: Record<string, number>;
}

interface Waiter {
  need: BucketNeed;
  /** Not before this time (a throttled call waiting out its own retry-after). */
  notBefore: number;
  grant: (slot: FlowSlot) => void;
  done: boolean;
}

interface ModelFlow {
  limit: AdaptiveLimit;
  buckets: LearnedBuckets;
  inFlight: number;
  pausedUntil: number;
  waiters: Waiter[];
  timer?: NodeJS.Timeout;
  throttles: number;
}

/** Options of a controller. */
export interface FlowOptions {
  initialConcurrency?: number;
  maxConcurrency?: number;
  /** What the provider's limits are per (a minute; tests and benches scale it down). */
  windowMs?: number;
  /** Configured limits per model (`*` for any): ceilings over what is learned. */
  ceilings?: Record<string, ModelLimits>;
  now?: () => number;
  /**
   * How many worker processes call this provider (with this key) now, this one included: each
   * paces to its share of the advertised buckets (see LearnedBuckets.sync). Default 1.
   */
  fleetSize?: () => number;
  /** Called when a model's state changes (metrics gauges). */
  onStatus?: (s: FlowModelStatus) => void;
  /** Called when answers advertise new limits for a model (a log line). */
  onLearned?: (model: string, advertised: Record<string, number>) => void;
}

/** The per-process flow controller. */
export class FlowController {
  private readonly models = new Map<string, ModelFlow>();
  private readonly now: () => number;

  constructor(private readonly o: FlowOptions = {}) {
    this.now = o.now ?? Date.now;
  }

  private flow(model: string): ModelFlow {
    let f = this.models.get(model);
    if (!f) {
      const c = this.o.ceilings?.[model] ?? this.o.ceilings?.['*'] ?? {};
      const max = Math.min(c.adaptiveMax ?? Infinity, this.o.maxConcurrency ?? FLOW_MAX_CONCURRENCY);
      f = {
        // A fleet starts at one window in all, not one per process: each process opens at its share.
        limit: new AdaptiveLimit(Math.min(Math.ceil((this.o.initialConcurrency ?? FLOW_INITIAL_CONCURRENCY) / Math.max(1, this.o.fleetSize?.() ?? 1)), max), max),
        buckets: new LearnedBuckets(this.o.windowMs ?? 60_000, { requests: c.rpm, inputTokens: c.itpm, outputTokens: c.otpm }, this.now()),
        inFlight: 0,
        pausedUntil: 0,
        waiters: [],
        throttles: 0,
      };
      this.models.set(model, f);
    }
    return f;
  }

  /**
   * Waits for a slot for one request of `model` (not before `notBefore`); rejects with the
   * signal's reason if it aborts first.
   */
  acquire(model: string, need: BucketNeed, signal: AbortSignal, notBefore = 0): Promise<FlowSlot> {
    const f = this.flow(model);
    return new Promise<FlowSlot>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const w: Waiter = {
        need,
        notBefore,
        done: false,
        grant: (slot) => {
          signal.removeEventListener('abort', onAbort);
          resolve(slot);
        },
      };
      const onAbort = () => {
        if (w.done) return;
        w.done = true;
        f.waiters = f.waiters.filter((x) => x !== w);
        reject(signal.reason);
        this.pump(model, f);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      f.waiters.push(w);
      this.pump(model, f);
    });
  }

  /** Grants waiting calls in order while they fit; otherwise sets a timer for when the head fits. */
  private pump(model: string, f: ModelFlow): void {
    if (f.timer) {
      clearTimeout(f.timer);
      f.timer = undefined;
    }
    while (f.waiters.length) {
      const now = this.now();
      if (f.inFlight >= f.limit.allowed) return; // a release pumps again
      // The first waiter in order that may go now (a throttled call waiting out its own
      // retry-after does not hold up the others).
      const ready = f.waiters.find((w) => w.notBefore <= now);
      const head = ready ?? f.waiters[0];
      const wait = ready ? Math.max(f.pausedUntil - now, f.buckets.waitMs(head.need, now)) : 0;
      if (!ready || wait > 0) {
        // Look again when the head fits, or sooner when a throttled call's own wait ends (only
        // calls still waiting out a retry-after count: the ready ones are what waits now).
        const later = f.waiters.filter((w) => w.notBefore > now).map((w) => w.notBefore - now);
        const soonest = later.length ? Math.min(...later) : Infinity;
        f.timer = setTimeout(() => this.pump(model, f), Math.min(ready ? wait : Infinity, soonest));
        f.timer.unref?.();
        return;
      }
      f.waiters.splice(f.waiters.indexOf(head), 1);
      head.done = true;
      f.inFlight++;
      f.buckets.reserve(head.need, now);
      head.grant(this.slot(model, f, f.inFlight, now, head.need));
    }
  }

  private slot(model: string, f: ModelFlow, level: number, sentAt: number, need: BucketNeed): FlowSlot {
    let released = false;
    return {
      release: (o) => {
        if (released) return;
        released = true;
        f.inFlight--;
        const now = this.now();
        if (o.headers) {
          const before = JSON.stringify(f.buckets.limits());
          f.buckets.sync(o.headers, sentAt, now, 1 / Math.max(1, this.o.fleetSize?.() ?? 1));
          const after = f.buckets.limits();
          if (JSON.stringify(after) !== before) this.o.onLearned?.(model, after);
        }
        if (o.outcome !== 'success' || o.tokens) f.buckets.refund(need, o.tokens ?? { input: o.outcome === 'unused' ? 0 : need.inputTokens, output: 0 }, now);
        if (o.outcome === 'success') f.limit.success(level);
        else if (o.outcome === 'throttled') {
          f.throttles++;
          // A bucket the answer advertised is short of this request: pacing (already synced), not
          // concurrency, was the problem. Otherwise (no bucket says so) concurrency backs off.
          // The throttled call itself waits out the retry-after (the caller asks again with notBefore);
          // the buckets pace the others. Otherwise concurrency backs off and the model pauses.
          const bucketLimited = o.headers !== undefined && Object.keys(o.headers).length > 0 && f.buckets.waitMs(need, now) > 0;
          if (!bucketLimited) f.limit.throttled(level, sentAt, now);
          // A model-wide pause is kept only for a throttle long enough to say the provider wants quiet.
          if ((o.retryAfterMs ?? DEFAULT_THROTTLE_WAIT_MS) >= MODEL_PAUSE_AFTER_MS) f.pausedUntil = Math.max(f.pausedUntil, now + (o.retryAfterMs ?? DEFAULT_THROTTLE_WAIT_MS));
        }
        this.pump(model, f);
        if (this.o.onStatus) this.o.onStatus(this.statusOf(model, f, now));
      },
    };
  }

  private statusOf(model: string, f: ModelFlow, now: number): FlowModelStatus {
    return {
      model,
      concurrencyLimit: Math.round(f.limit.limit * 100) / 100,
      slowStart: f.limit.slowStart,
      ...(f.limit.ceiling !== undefined ? { ceiling: f.limit.ceiling } : {}),
      inFlight: f.inFlight,
      waiting: f.waiters.length,
      pausedForMs: Math.max(0, f.pausedUntil - now),
      throttles: f.throttles,
      advertised: f.buckets.limits(),
    };
  }

  /** Forgets everything learned (tests that share one process between scenarios). */
  reset(): void {
    for (const f of this.models.values()) if (f.timer) clearTimeout(f.timer);
    this.models.clear();
  }

  /** Every model's state. */
  status(): FlowModelStatus[] {
    const now = this.now();
    return [...this.models.entries()].map(([model, f]) => this.statusOf(model, f, now));
  }
}
