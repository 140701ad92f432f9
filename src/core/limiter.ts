/**
 * Admission control for LLM calls, as a pure state machine run inside the `llmLimiter` workflow
 * (one per task queue, shared by every worker and every run):
 * - requests, input tokens and output tokens per sliding window, per model (RPM, ITPM, OTPM):
 *   a call reserves its estimated input tokens and its max_tokens of output, and the reservation
 *   is settled with the real usage when the call ends;
 * - adaptive concurrency (AIMD): on a 429/529 the model's allowed concurrency drops to at most the
 *   concurrency the throttled request was sent at (and by BACKOFF once per congestion event), and
 *   calls pause for the provider's retry-after; each success adds 1/limit back, and more slowly
 *   near the level that was last throttled, so the limit settles just below the provider's.
 * Deterministic: time comes from the caller (workflow time), no I/O.
 */
import { z } from 'zod';
import { DEFAULT_THROTTLE_WAIT_MS, aimdSuccess, aimdThrottled, refilled } from './flow';

/** Limits of one model (any may be absent). */
export const modelLimitsSchema = z.object({
  rpm: z.number().int().min(1).optional(),
  itpm: z.number().int().min(1).optional(),
  otpm: z.number().int().min(1).optional(),
  /** Upper bound of adaptive concurrency; absent = no concurrency control. */
  adaptiveMax: z.number().int().min(1).optional(),
});
export type ModelLimits = z.infer<typeof modelLimitsSchema>;

/** An admission request, sent by the LLM activity. */
export const acquireRequestSchema = z.object({
  model: z.string().min(1),
  inputTokens: z.number().int().min(0),
  maxOutputTokens: z.number().int().min(1),
  limits: modelLimitsSchema,
  windowMs: z.number().int().min(100),
  /** How long a permit may stay unsettled before it is presumed lost (its worker died). */
  leaseMs: z.number().int().min(1000),
});
export type AcquireRequest = z.infer<typeof acquireRequestSchema>;

/** A batch of admission requests from one worker, granted in order (FIFO) as far as they fit. */
export const acquireBatchSchema = z.object({
  model: z.string().min(1),
  limits: modelLimitsSchema,
  windowMs: z.number().int().min(100),
  leaseMs: z.number().int().min(1000),
  /** The asking worker's id for this batch (its update id): a batch applied twice is granted once. */
  batchId: z.string().min(1).max(100).optional(),
  /** The asking worker process, which reports the permits it holds (see `reconcile`). */
  holder: z.string().min(1).max(100).optional(),
  requests: z
    .array(z.object({ inputTokens: z.number().int().min(0), maxOutputTokens: z.number().int().min(1) }))
    .min(1)
    .max(500),
});
export type AcquireBatchRequest = z.infer<typeof acquireBatchSchema>;

/** Permits for the first `permitIds.length` requests of a batch; why the next one did not fit. */
export interface AcquireBatchResponse {
  permitIds: string[];
  retryAfterMs?: number;
  reason?: string;
}

/** Failure type of an update rejected because the request does not fit now (details: [retryAfterMs]). */
export const PERMIT_REFUSED = 'PermitRefused';

/** The answer to an admission request. */
export type AcquireResponse = { granted: true; permitId: string } | { granted: false; retryAfterMs: number; reason: string };

/** What a settle signal must look like; anything else is dropped (see the llmLimiter workflow). */
export const settleRequestSchema = z.object({
  permitId: z.string().min(1).max(100),
  outcome: z.enum(['success', 'throttled', 'error', 'unused']),
  tokens: z.object({ input: z.number().int().min(0), output: z.number().int().min(0) }).optional(),
  retryAfterMs: z.number().min(0).optional(),
  sentAt: z.number().optional(),
});

/** What a held-permits report must look like; anything else is dropped. */
export const heldReportSchema = z.object({
  holder: z.string().min(1).max(100),
  held: z.array(z.string().max(100)).max(10_000),
  seen: z.record(z.string(), z.number()),
  leaseMs: z.number().int().min(1000).max(3_600_000),
});

/** How a call ended, sent when settling its permit. */
export interface SettleRequest {
  permitId: string;
  /** `unused`: the permit was never used (its caller gave up before sending): forget it. */
  outcome: 'success' | 'throttled' | 'error' | 'unused';
  tokens?: { input: number; output: number };
  retryAfterMs?: number;
  /** When the request was really sent (the worker's clock): the window counts from then. */
  sentAt?: number;
}

interface Entry {
  permitId: string;
  model: string;
  /** When the request counts from: the grant, then (once settled) when it was really sent. */
  at: number;
  /** When the permit was granted (never moved). */
  grantedAt?: number;
  input: number;
  output: number;
  settled: boolean;
  leaseUntil: number;
  /** How many of the model's permits were in flight when this one was granted. */
  conc?: number;
  /** The worker process it was granted to. */
  holder?: string;
}

interface ModelState {
  /** Allowed concurrency (float; floor is used); 0 = not controlled. JSON-safe, unlike Infinity. */
  limit: number;
  pausedUntil: number;
  /** When the limit last dropped: 429s of requests granted before that are the same congestion event. */
  lastDecreaseAt?: number;
  /** The lowest concurrency level (this call included) that drew a 429 since the last success at that level. */
  ceiling?: number;
}

/** Requests and tokens of settled calls, summed per time bucket (a bucket is 1/60 of the window). */
interface UsedBucket {
  t: number;
  /** The latest call in the bucket: the bucket leaves the window with it (so a single call's exit is exact). */
  last: number;
  n: number;
  input: number;
  output: number;
}

/** A granted batch, remembered so a batch delivered twice gets the same permits: `p<first>`… `p<first + count - 1>`. */
interface GrantedBatch {
  id: string;
  at: number;
  first?: number;
  count?: number;
  /** The first state format kept the whole list (still read from carried states). */
  permitIds?: string[];
}

/**
 * Serializable limiter state (carried across continue-as-new). Its size is bounded by the calls
 * in flight, the models and the window's buckets, not by the calls in the window: a settled call
 * is folded into its model's time bucket at once.
 */
export interface LimiterState {
  seq: number;
  /** Calls in flight (granted, not settled), and, in states carried from before, settled ones. */
  entries: Entry[];
  /** Per model, what settled calls used, per time bucket within the window. */
  used?: Record<string, UsedBucket[]>;
  models: Record<string, ModelState>;
  windowMs: number;
  /** Counters for inspection. */
  granted: number;
  refused: number;
  /** Settles taken as done from holders' reports (their own settle never took effect). */
  repaired?: number;
  /** Recently granted batches by id, so a batch delivered twice gets the same permits (not new ones). */
  batches?: GrantedBatch[];
  /**
   * Fold settled calls into usage buckets and remember batches compactly (the bounded state).
   * Set by the workflow behind `patched('limiter-usage-buckets')`; off, the state keeps every
   * call of the window and every batch's list, as runs started before the change do.
   */
  compact?: boolean;
  /** Lease renewals applied (see ./lease.ts). */
  renewals?: number;
  /** Calls that ended, as lease holders reported them. */
  reported?: number;
  /** Per model, the lease protocol's token buckets and holders (see ./lease.ts). */
  leases?: Record<string, LeaseModelState>;
  /**
   * Set by the workflow behind `patched('limiter-leases')`: the permit protocol (older workers,
   * during a rolling deploy) counts leased slots and spends from the same token buckets, so both
   * protocols share one set of limits. Off, permits are judged as before.
   */
  leasing?: boolean;
}

/** A token bucket of the lease protocol: refills continuously to its capacity (the limit) over the window. */
export interface TokenBucket {
  level: number;
  at: number;
}

/** One lease, as the limiter answers a renewal. `null`: that dimension is not limited. */
export interface LeaseGrant {
  /** Slots the holder may fill in all (its calls in flight included). */
  slots: number | null;
  /** Quota granted now, on top of nothing: the holder handed back what it had. */
  requests: number | null;
  input: number | null;
  output: number | null;
  /** Renew within this long (sooner while demand exceeds a limit). */
  renewInMs: number;
  /** Set when the holder's first waiting call got nothing: ask again after this long. */
  retryAfterMs?: number;
  reason?: string;
  /** The model's adaptive concurrency limit, for the holder's status. */
  limit?: number;
}

/** A worker process holding a lease on one model. */
export interface LeaseHolder {
  slots: number;
  inFlight: number;
  want: { slots: number; requests: number; input: number; output: number };
  /** The window slot its last grant was recorded in. */
  grantSlot?: number;
  /** Quota granted at its last renewal (spent or not: it says at the next). */
  outstanding?: { rpm: number; itpm: number; otpm: number };
  /** What it asked for beyond its needs (expected calls). */
  ahead?: { slots: number; requests: number; input: number; output: number };
  /** When it last renewed. */
  seen: number;
  leaseMs: number;
  /** Its last renewal's id and answer (a renewal delivered twice gets the same answer). */
  lastId?: string;
  last?: LeaseGrant;
  /** Its last few renewal ids (the last included). */
  recentIds?: string[];
}

export interface LeaseModelState {
  buckets: Partial<Record<'rpm' | 'itpm' | 'otpm', TokenBucket>>;
  /** Per rate, quota granted per slot of the window (net of what came back). */
  windows?: Partial<Record<'rpm' | 'itpm' | 'otpm', { t: number; n: number }[]>>;
  holders: Record<string, LeaseHolder>;
}

/** A bucket refilled to `now` (a new one starts full). Pure: returns a new bucket. */
export function refill(b: TokenBucket | undefined, capacity: number, windowMs: number, now: number): TokenBucket {
  if (!b) return { level: capacity, at: now };
  return { level: refilled(b.level, b.at, capacity, windowMs, now), at: Math.max(b.at, now) };
}

/** Whether a lease holder has renewed within its lease time. */
export const holderLive = (h: LeaseHolder, now: number) => h.seen + h.leaseMs > now;

/** Permits of the first protocol in flight for a model. */
export function oldInFlight(s: LimiterState, model: string, now: number): number {
  return s.entries.filter((e) => e.model === model && !e.settled && e.leaseUntil > now).length;
}

/** Slots held through leases on a model (a holder running more than its slots counts what it runs). */
export function leasedInFlight(s: LimiterState, model: string, now: number): number {
  return Object.values(s.leases?.[model]?.holders ?? {})
    .filter((h) => holderLive(h, now))
    .reduce((n, h) => n + Math.max(h.slots, h.inFlight), 0);
}

const RATE_NEED = [
  ['rpm', () => 1],
  ['itpm', (r: { inputTokens: number }) => r.inputTokens],
  ['otpm', (r: { maxOutputTokens: number }) => r.maxOutputTokens],
] as const;

/** How long a granted batch is remembered for a repeated delivery (which comes within seconds, around a continue-as-new). */
const BATCH_MEMORY_MS = 2 * 60_000;
/** The same, in the state format of runs started before the bounded state. */
const LEGACY_BATCH_MEMORY_MS = 10 * 60_000;

/** The permit ids of a remembered batch. */
function batchPermits(b: GrantedBatch): string[] {
  if (b.permitIds) return b.permitIds;
  return Array.from({ length: b.count ?? 0 }, (_, i) => `p${(b.first ?? 0) + i}`);
}

/** Width of one usage bucket: 1/60 of the window, at least 50 ms. */
const bucketWidth = (windowMs: number) => Math.max(50, Math.floor(windowMs / 60));

/** A fresh state. */
export function initialLimiterState(): LimiterState {
  return { seq: 0, entries: [], models: {}, windowMs: 60_000, granted: 0, refused: 0, compact: true };
}

export { BACKOFF, PROBE_SLOWDOWN } from './flow';

// Network delay between a grant and the request's arrival at the provider: keep entries a little
// longer than the window so the provider never sees more than the budget in any window.
const margin = (windowMs: number) => Math.min(2000, Math.max(500, Math.round(windowMs / 10)));

/**
 * Expires lost permits, folds settled calls into their model's usage buckets, and drops buckets
 * that left the window: afterwards `entries` holds only calls in flight.
 */
function prune(s: LimiterState, now: number): void {
  const horizon = now - s.windowMs - margin(s.windowMs);
  if (!s.compact) {
    // The accounting of runs started before the bounded state: every call of the window kept.
    s.entries = s.entries.filter((e) => e.at > horizon || !e.settled);
    for (const e of s.entries) {
      if (!e.settled && e.leaseUntil <= now) e.settled = true;
    }
    return;
  }
  const width = bucketWidth(s.windowMs);
  const used = (s.used ??= {});
  const keep: Entry[] = [];
  for (const e of s.entries) {
    if (!e.settled && e.leaseUntil <= now) e.settled = true;
    if (!e.settled) {
      keep.push(e);
      continue;
    }
    if (e.at <= horizon) continue;
    const t = Math.floor(e.at / width) * width;
    const buckets = (used[e.model] ??= []);
    let b = buckets.find((x) => x.t === t);
    if (!b) buckets.push((b = { t, last: e.at, n: 0, input: 0, output: 0 }));
    b.last = Math.max(b.last, e.at);
    b.n++;
    b.input += e.input;
    b.output += e.output;
  }
  s.entries = keep;
  for (const m of Object.keys(used)) {
    used[m] = used[m].filter((b) => b.last > horizon);
    if (!used[m].length) delete used[m];
  }
}

/** A refusal: why, and when asking again can succeed. */
export interface Refusal {
  retryAfterMs: number;
  reason: string;
}

/**
 * Whether a request would be admitted now, without changing anything (it runs in the update's
 * validator, which must not mutate state: refusals are rejected there and never reach history).
 */
export function check(s: LimiterState, req: AcquireRequest, now: number): Refusal | undefined {
  const { limits } = req;
  const windowMs = req.windowMs;
  const model = s.models[req.model];
  const refuse = (retryAfterMs: number, reason: string): Refusal => ({ retryAfterMs: Math.max(50, Math.ceil(retryAfterMs)), reason });
  if (model && now < model.pausedUntil) return refuse(model.pausedUntil - now, 'paused after a rate-limit answer');
  const mine = s.entries.filter((e) => e.model === req.model);
  const horizon = now - windowMs - margin(windowMs);
  // Calls in flight (and, in a carried state, settled entries not yet folded), plus the buckets.
  const inWindow = mine.filter((e) => e.at > horizon);
  const buckets = (s.used?.[req.model] ?? []).filter((b) => b.last > horizon);
  const count = inWindow.length + buckets.reduce((n, b) => n + b.n, 0);
  // When the budget is full, the earliest moment something leaves the window.
  const nextExpiry = () => {
    const times = [...inWindow.map((e) => e.at), ...buckets.map((b) => b.last)];
    return times.length ? Math.min(...times) - horizon : 100;
  };
  if (limits.adaptiveMax !== undefined) {
    const limit = Math.min(limits.adaptiveMax, model && model.limit > 0 ? model.limit : limits.adaptiveMax);
    const inFlight = mine.filter((e) => !e.settled && e.leaseUntil > now).length + (s.leasing ? leasedInFlight(s, req.model, now) : 0);
    if (inFlight >= Math.max(1, Math.floor(limit))) return refuse(100, `concurrency ${Math.floor(limit)} reached`);
  }
  if (limits.rpm !== undefined && count + 1 > limits.rpm) return refuse(nextExpiry(), `${limits.rpm} requests per window reached`);
  const usedIn = inWindow.reduce((n, e) => n + e.input, 0) + buckets.reduce((n, b) => n + b.input, 0);
  // A single call larger than the whole budget is admitted alone, or it could never run.
  if (limits.itpm !== undefined && usedIn + req.inputTokens > limits.itpm && count > 0) return refuse(nextExpiry(), `${limits.itpm} input tokens per window reached`);
  const usedOut = inWindow.reduce((n, e) => n + e.output, 0) + buckets.reduce((n, b) => n + b.output, 0);
  if (limits.otpm !== undefined && usedOut + req.maxOutputTokens > limits.otpm && count > 0) return refuse(nextExpiry(), `${limits.otpm} output tokens per window reached`);
  // During a rolling deploy, permits also spend from the buckets that leases draw on.
  if (s.leasing) {
    const buckets = s.leases?.[req.model]?.buckets ?? {};
    for (const [rate, need] of RATE_NEED) {
      const capacity = limits[rate];
      const b = buckets[rate];
      if (capacity === undefined || !b) continue;
      const level = refill(b, capacity, windowMs, now).level;
      const n = Math.min(need(req), capacity);
      if (level < n) return refuse(((n - level) * windowMs) / capacity, `${capacity} ${rate} reached (shared with leases)`);
    }
  }
  return undefined;
}

/** Decides one admission request at time `now`, granting a permit when it fits; mutates the state. */
export function acquire(s: LimiterState, req: AcquireRequest, now: number): AcquireResponse {
  const r = acquireBatch(
    s,
    { model: req.model, limits: req.limits, windowMs: req.windowMs, leaseMs: req.leaseMs, requests: [{ inputTokens: req.inputTokens, maxOutputTokens: req.maxOutputTokens }] },
    now,
  );
  return r.permitIds.length ? { granted: true, permitId: r.permitIds[0] } : { granted: false, retryAfterMs: r.retryAfterMs ?? 100, reason: r.reason ?? 'refused' };
}

/** Whether the first request of a batch would be admitted now (the batch update's validator). */
export function checkBatch(s: LimiterState, req: AcquireBatchRequest, now: number): Refusal | undefined {
  if (req.batchId && s.batches?.some((b) => b.id === req.batchId)) return undefined;
  return check(s, { model: req.model, limits: req.limits, windowMs: req.windowMs, leaseMs: req.leaseMs, ...req.requests[0] }, now);
}

/**
 * Grants the requests of a batch in order while they fit, and stops at the first that does not
 * (first come, first served: a large request is not overtaken forever by small ones). A batch
 * already granted (the same batchId delivered again, e.g. an update applied once more on the run
 * after a continue-as-new) gets the permits it got the first time.
 */
export function acquireBatch(s: LimiterState, req: AcquireBatchRequest, now: number): AcquireBatchResponse {
  s.windowMs = req.windowMs;
  prune(s, now);
  s.batches = (s.batches ?? []).filter((b) => b.at > now - (s.compact ? BATCH_MEMORY_MS : LEGACY_BATCH_MEMORY_MS));
  const seen = req.batchId ? s.batches.find((b) => b.id === req.batchId) : undefined;
  if (seen) return { permitIds: batchPermits(seen) };
  const r = grantBatch(s, req, now);
  // Permits of one batch are consecutive: remember the first and the count, not the list.
  if (req.batchId && r.permitIds.length) {
    s.batches.push(s.compact ? { id: req.batchId, at: now, first: permitNumber(r.permitIds[0]), count: r.permitIds.length } : { id: req.batchId, at: now, permitIds: r.permitIds });
  }
  return r;
}

/** Takes a permit's reservation out of the model's lease buckets (or gives a correction back, negative). */
function spendBuckets(s: LimiterState, model: string, limits: ModelLimits, windowMs: number, now: number, n: { requests: number; input: number; output: number }): void {
  const m = s.leases?.[model];
  if (!m) return;
  for (const [rate, amount] of [
    ['rpm', n.requests],
    ['itpm', n.input],
    ['otpm', n.output],
  ] as const) {
    const capacity = limits[rate];
    if (capacity === undefined || !m.buckets[rate]) continue;
    const b = refill(m.buckets[rate], capacity, windowMs, now);
    b.level = Math.min(capacity, b.level - amount);
    m.buckets[rate] = b;
  }
}

function grantBatch(s: LimiterState, req: AcquireBatchRequest, now: number): AcquireBatchResponse {
  const { limits } = req;
  const model = (s.models[req.model] ??= { limit: limits.adaptiveMax ?? 0, pausedUntil: 0 });
  if (limits.adaptiveMax !== undefined && (model.limit <= 0 || model.limit > limits.adaptiveMax)) model.limit = limits.adaptiveMax;
  const permitIds: string[] = [];
  for (const r of req.requests) {
    const refusal = check(s, { model: req.model, limits, windowMs: req.windowMs, leaseMs: req.leaseMs, ...r }, now);
    if (refusal) {
      s.refused++;
      return { permitIds, ...refusal };
    }
    if (s.leasing) spendBuckets(s, req.model, limits, req.windowMs, now, { requests: 1, input: r.inputTokens, output: r.maxOutputTokens });
    const conc = s.entries.filter((e) => e.model === req.model && !e.settled).length + (s.leasing ? leasedInFlight(s, req.model, now) : 0);
    const permitId = `p${++s.seq}`;
    s.entries.push({
      permitId,
      model: req.model,
      at: now,
      grantedAt: now,
      input: r.inputTokens,
      output: r.maxOutputTokens,
      settled: false,
      leaseUntil: now + req.leaseMs,
      conc,
      ...(req.holder ? { holder: req.holder } : {}),
    });
    s.granted++;
    permitIds.push(permitId);
  }
  return { permitIds };
}

/** Settles a permit with what the call really used, and adapts concurrency to the outcome. */
export function settle(s: LimiterState, req: SettleRequest, now: number): void {
  const e = s.entries.find((x) => x.permitId === req.permitId);
  // Unknown, or settled already (a signal delivered twice, or a lease that ran out first).
  if (!e || e.settled) return;
  if (req.outcome === 'unused') {
    // Granted but never sent: it used nothing and says nothing about the provider.
    s.entries = s.entries.filter((x) => x !== e);
    return;
  }
  e.settled = true;
  // The grant time is the workflow task's time; the request may have left later (a cold worker,
  // a busy event loop). Count it from when it really went out.
  if (req.sentAt !== undefined && req.sentAt > e.at) e.at = req.sentAt;
  const reserved = { input: e.input, output: e.output };
  if (req.tokens) {
    e.input = req.tokens.input;
    e.output = req.tokens.output;
  } else if (req.outcome !== 'success') {
    // A refused or failed request used no output tokens.
    e.output = 0;
  }
  if (s.leasing) {
    // What the reservation took from the lease buckets beyond the real usage goes back.
    const m = s.leases?.[e.model];
    if (m?.buckets.itpm) m.buckets.itpm.level += reserved.input - e.input;
    if (m?.buckets.otpm) m.buckets.otpm.level += reserved.output - e.output;
  }
  const model = s.models[e.model];
  if (!model || model.limit <= 0) {
    prune(s, now);
    return;
  }
  // The concurrency level this call ran at, itself included.
  const level = (e.conc ?? Math.floor(model.limit) - 1) + 1;
  if (req.outcome === 'throttled') {
    aimdThrottled(model, level, e.grantedAt ?? e.at, now);
    model.pausedUntil = Math.max(model.pausedUntil, now + (req.retryAfterMs ?? DEFAULT_THROTTLE_WAIT_MS));
  } else if (req.outcome === 'success') aimdSuccess(model, level);
  prune(s, now);
}

/** A worker process's periodic account of the permits it holds. */
export interface HeldReport {
  holder: string;
  /** Permits granted to it and not yet settled by it. */
  held: string[];
  /**
   * Per model, the highest permit number it has received. A worker asks for one model's permits
   * one batch at a time, so every permit of that model up to this number has reached it; higher
   * ones may still be on their way.
   */
  seen: Record<string, number>;
  /** How long the held permits' leases are extended from now. */
  leaseMs: number;
}

const permitNumber = (permitId: string) => Number(permitId.slice(1));

/**
 * Applies a holder's report: permits it holds get their lease extended (a live worker's long call
 * keeps its slot); permits granted to it that it has received but no longer holds were settled by
 * it, so a settle that never took effect (lost in transit or around a continue-as-new) is taken
 * as done now. Their reservations stay counted in the window (the real usage never arrived).
 */
export function reconcile(s: LimiterState, r: HeldReport, now: number): number {
  const held = new Set(r.held);
  let repaired = 0;
  for (const e of s.entries) {
    if (e.holder !== r.holder || e.settled) continue;
    if (held.has(e.permitId)) e.leaseUntil = Math.max(e.leaseUntil, now + r.leaseMs);
    else if (permitNumber(e.permitId) <= (r.seen[e.model] ?? 0)) {
      e.settled = true;
      repaired++;
    }
  }
  s.repaired = (s.repaired ?? 0) + repaired;
  return repaired;
}

/** What the limiter's query reports. */
export interface LimiterStatus {
  granted: number;
  refused: number;
  /** Calls in flight: permits not settled, plus what lease holders last reported running. */
  inFlight: number;
  /** Settles repaired from holders' reports. */
  repaired: number;
  /** Worker processes holding a lease (renewed within their lease time). */
  holders: number;
  /** Lease renewals applied. */
  renewals: number;
  /** Calls that ended, as lease holders reported them (in aggregate, at their renewals). */
  reported: number;
  /** Size of the state carried into a continue-as-new (JSON bytes). */
  stateBytes: number;
  /**
   * Per model: the adaptive concurrency limit (0 = not adaptive), the level last throttled, the
   * pause left, slots leased out, and the level of each rate bucket.
   */
  models: Record<string, { limit: number; ceiling: number | null; pausedForMs: number; slotsLeased: number; buckets: Record<string, number> }>;
}

/** A summary for the limiter's query. */
export function describeLimiter(s: LimiterState, now: number): LimiterStatus {
  const holders = new Set<string>();
  let leasedRunning = 0;
  for (const m of Object.values(s.leases ?? {})) {
    for (const [id, h] of Object.entries(m.holders)) {
      if (!holderLive(h, now)) continue;
      holders.add(id);
      leasedRunning += h.inFlight;
    }
  }
  const names = new Set([...Object.keys(s.models), ...Object.keys(s.leases ?? {})]);
  return {
    granted: s.granted,
    refused: s.refused,
    inFlight: s.entries.filter((e) => !e.settled).length + leasedRunning,
    repaired: s.repaired ?? 0,
    holders: holders.size,
    renewals: s.renewals ?? 0,
    reported: s.reported ?? 0,
    stateBytes: JSON.stringify(s).length,
    models: Object.fromEntries(
      [...names].map((m) => {
        const st = s.models[m];
        const lm = s.leases?.[m];
        return [
          m,
          {
            limit: Math.floor(st?.limit ?? 0),
            ceiling: st?.ceiling ?? null,
            pausedForMs: Math.max(0, (st?.pausedUntil ?? 0) - now),
            slotsLeased: leasedInFlight(s, m, now),
            buckets: Object.fromEntries(Object.entries(lm?.buckets ?? {}).map(([k, b]) => [k, Math.floor(b!.level)])),
          },
        ];
      }),
    ),
  };
}
