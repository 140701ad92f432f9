/**
 * The lease protocol of the fleet limiter (pure; run inside the `llmLimiter` workflow).
 *
 * A worker process does not ask for a permit per call. It holds, per model, a **lease**:
 * - concurrency **slots** (how many calls it may have in flight), its share of the model's
 *   adaptive limit, kept until it renews with a smaller want or stops renewing (a dead worker's
 *   slots come back after `leaseMs`);
 * - **quota** of each rate limit configured (requests, input tokens, output tokens), taken out of
 *   the model's token buckets, which refill continuously to their limit over the window (the
 *   provider's own model). A worker spends it locally, call by call, and hands back what it did
 *   not use at its next renewal.
 * A renewal (one update) carries what happened since the last one, in aggregate: successes,
 * throttles (the limiter's AIMD backs off once per report with throttles), and token
 * corrections (estimated input vs real, `max_tokens` reserved vs output really produced). So the
 * limiter's cost is per worker and renewal, not per call, and its state is bounded by workers ×
 * models.
 *
 * When demand exceeds a limit, each holder gets a share proportional to what it asks for (the
 * first waiting call of a holder always fits when the bucket can take it: no starvation), and
 * every holder is told to renew soon, so shares follow demand within about a second.
 */
import { z } from 'zod';
import { DEFAULT_THROTTLE_WAIT_MS, aimdSuccess, aimdThrottled } from './flow';
import {
  holderLive as live,
  initialLimiterState,
  modelLimitsSchema,
  oldInFlight,
  refill,
  type LeaseGrant,
  type LeaseHolder,
  type LeaseModelState,
  type LimiterState,
  type Refusal,
} from './limiter';

const count = z.number().int().min(0).max(1e12);
/** Token corrections may be negative (a call used more input than estimated). */
const delta = z.number().int().min(-1e12).max(1e12);

/** One renewal of a worker process's lease for one model. */
export const leaseRequestSchema = z.object({
  /** The renewal's id (its update id): a renewal applied twice gets the same answer, not a second grant. */
  id: z.string().min(1).max(100),
  holder: z.string().min(1).max(100),
  model: z.string().min(1).max(200),
  limits: modelLimitsSchema,
  windowMs: z
    .number()
    .int()
    .min(100)
    .max(24 * 3_600_000),
  /** Slots of a holder that has not renewed for this long are taken back (it died). */
  leaseMs: z.number().int().min(1000).max(3_600_000),
  /** Calls the holder has in flight now. */
  inFlight: count,
  /** What the holder needs: slots for its calls in flight and waiting, quota for the waiting ones. */
  want: z.object({ slots: count, requests: count, input: count, output: count }),
  /** More it would like for the calls it expects soon (granted only from what nobody needs now). */
  ahead: z.object({ slots: count, requests: count, input: count, output: count }).optional(),
  /** The first waiting call's need: a holder whose first call fits the bucket gets at least that. */
  first: z.object({ input: count, output: count }).optional(),
  /** Quota of the previous grant that was not used, handed back. */
  returned: z.object({ requests: count, input: count, output: count }),
  /** What happened since the last renewal. */
  usage: z.object({
    success: count,
    throttled: count,
    /** Calls that ended in another error. */
    failed: count.optional(),
    /** When the earliest throttled request of the report was sent (the limiter's clock, roughly). */
    throttledSentAt: z.number().optional(),
    /** The longest retry-after among the throttles. */
    retryAfterMs: z
      .number()
      .min(0)
      .max(24 * 3_600_000)
      .optional(),
    /** Input tokens reserved (estimated) minus really used, summed over the calls that ended. */
    inputRefund: delta,
    /** Output tokens reserved (max_tokens) minus really produced. */
    outputRefund: delta,
  }),
});
export type LeaseRequest = z.infer<typeof leaseRequestSchema>;

/** How often a holder renews when nothing is contended (a third of the lease, so one lost renewal costs nothing). */
const calmRenewMs = (leaseMs: number) => Math.max(500, Math.floor(leaseMs / 3));
/** How often holders renew while demand exceeds a limit (shares follow demand this fast). */
export const CONTENDED_RENEW_MS = 1000;
/** Renewal ids remembered per holder (a repeated delivery comes within moments). */
const RECENT_IDS = 4;
/** The least a refusal asks a holder to wait (no polling faster than this). */
const MIN_RETRY_MS = 250;

type Rate = 'rpm' | 'itpm' | 'otpm';
const RATES: { rate: Rate; want: 'requests' | 'input' | 'output'; unit: string }[] = [
  { rate: 'rpm', want: 'requests', unit: 'requests' },
  { rate: 'itpm', want: 'input', unit: 'input tokens' },
  { rate: 'otpm', want: 'output', unit: 'output tokens' },
];

/** `mine` of `pool` when the asks (`total`) exceed it, in proportion; else all of `mine`. */
const share = (pool: number, mine: number, total: number) => (total > pool ? Math.floor((pool * mine) / Math.max(1, total)) : mine);

/** Width of a slot of the window's grant record (a twentieth of the window). */
const slotWidth = (windowMs: number) => Math.max(50, Math.floor(windowMs / 20));

/** What is kept back from spare grants (a tenth of a limit), for calls that arrive elsewhere. */
const reserve = (limit: number) => Math.ceil(limit / 10);

/** Drops holders that stopped renewing (their slots come back) and the models nobody holds. */
function expireHolders(s: LimiterState, now: number): void {
  for (const [model, m] of Object.entries(s.leases ?? {})) {
    for (const [id, h] of Object.entries(m.holders)) if (!live(h, now)) delete m.holders[id];
    if (!Object.keys(m.holders).length && !Object.keys(m.buckets).length) delete s.leases![model];
  }
}

/**
 * Applies one renewal and returns the holder's new lease; mutates the state. Deterministic
 * (`now` is workflow time).
 */
export function renewLease(s: LimiterState, req: LeaseRequest, now: number): LeaseGrant {
  const leases = (s.leases ??= {});
  const m: LeaseModelState = (leases[req.model] ??= { buckets: {}, holders: {} });
  const previous = m.holders[req.holder];
  // Delivered twice (an update applied again next to a continue-as-new): not applied again. The
  // last renewal gets its own answer; an older one (its holder has renewed since, so nobody waits
  // for that answer) gets the current lease.
  if (previous?.last && (previous.lastId === req.id || previous.recentIds?.includes(req.id))) return previous.last;
  expireHolders(s, now);
  leases[req.model] = m;
  const { limits, windowMs } = req;

  // Buckets: refill, take back what was not used and the reservations' corrections. Quota other
  // holders still hold counts as in the bucket (it may be spent any moment): the bucket refills
  // only up to its capacity less that, so the provider never sees more than one bucket's worth
  // plus the refill over any span, however late the quota is spent.
  const heldElsewhere = (rate: Rate) =>
    Object.entries(m.holders)
      .filter(([id, x]) => id !== req.holder && live(x, now))
      .reduce((n, [, x]) => n + (x.outstanding?.[rate] ?? 0), 0);
  const cap: Partial<Record<Rate, number>> = {};
  for (const { rate } of RATES) {
    const capacity = limits[rate];
    if (capacity === undefined) {
      delete m.buckets[rate];
      continue;
    }
    cap[rate] = Math.max(0, capacity - heldElsewhere(rate));
    const b = refill(m.buckets[rate], capacity, windowMs, now);
    // Refill stops at the cap; a level already above it (quota handed back) stays, no higher.
    const before = m.buckets[rate] ? Math.max(m.buckets[rate]!.level, 0) : b.level;
    b.level = Math.min(b.level, Math.max(cap[rate]!, Math.min(before, capacity)));
    m.buckets[rate] = b;
  }
  // The window's record of what was granted, without the slots that left it.
  const win = (m.windows ??= {});
  const slot = slotWidth(windowMs);
  const horizon = now - windowMs;
  for (const { rate } of RATES) {
    if (!m.buckets[rate]) delete win[rate];
    else win[rate] = (win[rate] ?? []).filter((x) => x.t + slot > horizon);
  }

  // The holder's report. What comes back (quota not used, reservations' corrections) goes into
  // the bucket, and is taken off the window slot the holder's last grant went into.
  const h: LeaseHolder = (m.holders[req.holder] ??= { slots: 0, inFlight: 0, want: { slots: 0, requests: 0, input: 0, output: 0 }, seen: now, leaseMs: req.leaseMs });
  const back: Record<Rate, number> = { rpm: req.returned.requests, itpm: req.returned.input + req.usage.inputRefund, otpm: req.returned.output + req.usage.outputRefund };
  for (const { rate } of RATES) {
    const b = m.buckets[rate];
    if (!b || !back[rate]) continue;
    b.level = Math.min(cap[rate]!, b.level + back[rate]);
    const x = win[rate]?.find((e) => e.t === h.grantSlot);
    if (x && back[rate] > 0) x.n = Math.max(0, x.n - back[rate]);
  }
  h.inFlight = req.inFlight;
  h.want = req.want;
  h.ahead = req.ahead;
  h.seen = now;
  h.leaseMs = req.leaseMs;
  const holders = Object.values(m.holders);

  // Adaptive concurrency: the report's throttles are one congestion event at the fleet's level.
  const model = (s.models[req.model] ??= { limit: limits.adaptiveMax ?? 0, pausedUntil: 0 });
  if (limits.adaptiveMax !== undefined && (model.limit <= 0 || model.limit > limits.adaptiveMax)) model.limit = limits.adaptiveMax;
  const fleetInFlight = holders.reduce((n, x) => n + x.inFlight, 0) + oldInFlight(s, req.model, now);
  if (req.usage.throttled > 0) {
    if (model.limit > 0) aimdThrottled(model, Math.max(1, fleetInFlight), req.usage.throttledSentAt ?? now, now);
    model.pausedUntil = Math.max(model.pausedUntil, now + (req.usage.retryAfterMs ?? DEFAULT_THROTTLE_WAIT_MS));
  }
  if (model.limit > 0) {
    for (let i = 0; i < Math.min(req.usage.success, 1000); i++) aimdSuccess(model, Math.max(1, fleetInFlight), limits.adaptiveMax);
  }
  if (limits.adaptiveMax === undefined) model.limit = 0;

  const paused = now < model.pausedUntil;
  let contended = false;
  const refusals: Refusal[] = [];

  // Slots: the holder's share of the adaptive limit. Needs first (shared by need when they exceed
  // the limit), then what is left over, shared among the holders' asks for what they expect.
  const aheadOf = (x: LeaseHolder, k: 'slots' | 'requests' | 'input' | 'output') => x.ahead?.[k] ?? 0;
  let slots: number | null = null;
  if (model.limit > 0) {
    const limit = Math.max(1, Math.floor(model.limit));
    const old = oldInFlight(s, req.model, now);
    const others = holders.filter((x) => x !== h).reduce((n, x) => n + Math.max(x.slots, x.inFlight), 0) + old;
    const needOf = (x: LeaseHolder) => Math.max(x.want.slots, x.inFlight);
    const totalNeed = holders.reduce((n, x) => n + needOf(x), 0) + old;
    contended = totalNeed > limit;
    const base = contended ? Math.max(1, Math.floor((limit * needOf(h)) / Math.max(1, totalNeed))) : needOf(h);
    // Spare slots come out of what nobody needs less a reserve, so a holder whose calls arrive
    // finds free slots without waiting for the others to hand their spares back.
    const spare = share(
      Math.max(0, limit - totalNeed - reserve(limit)),
      aheadOf(h, 'slots'),
      holders.reduce((n, x) => n + aheadOf(x, 'slots'), 0),
    );
    let target = Math.min(base + spare, Math.max(0, limit - others));
    // Nearly all slots out: holders renew sooner, so spares go where calls wait within a second.
    if (others + target >= limit - reserve(limit) / 2) contended = true;
    // Paused after a throttle: what runs may finish, nothing new starts.
    if (paused) target = Math.min(target, h.inFlight);
    h.slots = Math.max(0, target);
    slots = h.slots;
    if (req.want.slots > h.inFlight && h.slots <= h.inFlight) {
      refusals.push(
        paused
          ? { retryAfterMs: model.pausedUntil - now, reason: 'paused after a rate-limit answer' }
          : { retryAfterMs: CONTENDED_RENEW_MS, reason: `concurrency ${limit} reached` },
      );
    }
  } else h.slots = 0;

  // Quota: the holder's share of each bucket, all or nothing for its first waiting call.
  const quota: Record<Rate, number | null> = { rpm: null, itpm: null, otpm: null };
  const firstNeed: Record<Rate, number> = { rpm: 1, itpm: req.first?.input ?? 0, otpm: req.first?.output ?? 0 };
  let firstFits = true;
  for (const { rate, want, unit } of RATES) {
    const b = m.buckets[rate];
    if (!b) continue;
    const capacity = limits[rate]!;
    // A bucket, and never more than the limit granted within any window (the stricter reading
    // of a per-minute limit, and what a provider enforcing it over shorter intervals needs).
    const inWindow = (win[rate] ?? []).reduce((n, x) => n + x.n, 0);
    const level = Math.max(0, Math.min(b.level, capacity - inWindow));
    const demand = holders.reduce((n, x) => n + x.want[want], 0);
    if (demand > level) contended = true;
    const base = demand > level ? Math.floor((level * req.want[want]) / Math.max(1, demand)) : req.want[want];
    const spare = share(
      Math.max(0, level - demand - reserve(capacity)),
      aheadOf(h, want),
      holders.reduce((n, x) => n + aheadOf(x, want), 0),
    );
    quota[rate] = paused ? 0 : Math.max(0, Math.min(level, base + spare));
    if (req.first && !paused) {
      // A call larger than the whole bucket goes alone once the bucket is full, or it never could.
      const need = Math.min(firstNeed[rate], capacity);
      if (quota[rate]! < firstNeed[rate]) {
        // `level` holds the window rule too: the first call's exception must not step over it.
        if (level >= need) quota[rate] = Math.max(quota[rate]!, Math.min(firstNeed[rate], level), need);
        else {
          firstFits = false;
          // When it fits: the bucket refilled enough, and enough of the window's grants left it.
          const refillMs = ((need - b.level) * windowMs) / capacity;
          let expiring = capacity - inWindow;
          let windowMs_ = 0;
          for (const x of [...(win[rate] ?? [])].sort((a, c) => a.t - c.t)) {
            if (expiring >= need) break;
            expiring += x.n;
            windowMs_ = x.t + slot - horizon;
          }
          refusals.push({ retryAfterMs: Math.max(refillMs, windowMs_), reason: `${capacity} ${unit} per window reached` });
        }
      }
    }
  }
  if (paused && req.first && Object.values(m.buckets).length) refusals.push({ retryAfterMs: model.pausedUntil - now, reason: 'paused after a rate-limit answer' });
  // Quota the first call cannot use is not handed out: it would sit idle while others wait.
  if (!firstFits) for (const { rate } of RATES) if (quota[rate] !== null) quota[rate] = 0;
  for (const { rate } of RATES) {
    const b = m.buckets[rate];
    if (b && quota[rate]) {
      b.level -= quota[rate]!;
      const t = Math.floor(now / slot) * slot;
      const list = (win[rate] ??= []);
      const x = list.find((e) => e.t === t);
      if (x) x.n += quota[rate]!;
      else list.push({ t, n: quota[rate]! });
    }
  }
  h.outstanding = { rpm: quota.rpm ?? 0, itpm: quota.itpm ?? 0, otpm: quota.otpm ?? 0 };
  h.grantSlot = Math.floor(now / slot) * slot;

  const grant: LeaseGrant = {
    slots,
    requests: quota.rpm,
    input: quota.itpm,
    output: quota.otpm,
    renewInMs: contended ? CONTENDED_RENEW_MS : calmRenewMs(req.leaseMs),
  };
  if (refusals.length) {
    const worst = refusals.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a));
    grant.retryAfterMs = Math.max(MIN_RETRY_MS, Math.ceil(worst.retryAfterMs));
    grant.reason = worst.reason;
  }
  if (model.limit > 0) grant.limit = Math.floor(model.limit);
  h.lastId = req.id;
  h.last = grant;
  h.recentIds = [...(h.recentIds ?? []), req.id].slice(-RECENT_IDS);
  s.renewals = (s.renewals ?? 0) + 1;
  s.reported = (s.reported ?? 0) + req.usage.success + req.usage.throttled + (req.usage.failed ?? 0);
  return grant;
}

/**
 * Whether a renewal would do nothing worth a history entry (the update's validator: such a
 * renewal is rejected there, never recorded). A renewal that reports usage, hands quota back,
 * changes what its holder wants, or keeps a lease alive is applied; a holder that only asks
 * again for what cannot be granted is told when to come back.
 */
export function leaseRefusal(s: LimiterState, req: LeaseRequest, now: number): Refusal | undefined {
  const h = s.leases?.[req.model]?.holders[req.holder];
  if (!h || h.lastId === req.id || h.recentIds?.includes(req.id)) return undefined;
  const u = req.usage;
  const reports = u.success || u.throttled || u.failed || u.inputRefund || u.outputRefund || req.returned.requests || req.returned.input || req.returned.output;
  const changed = req.inFlight !== h.inFlight || JSON.stringify([req.want, req.ahead ?? null]) !== JSON.stringify([h.want, h.ahead ?? null]);
  if (reports || changed || now - h.seen >= calmRenewMs(req.leaseMs) / 2) return undefined;
  // The same ask as before: decide it on a copy; refuse it if it would grant nothing new.
  const copy: LimiterState = JSON.parse(
    JSON.stringify({
      ...initialLimiterState(),
      leasing: s.leasing,
      leases: { [req.model]: s.leases![req.model] },
      models: s.models[req.model] ? { [req.model]: s.models[req.model] } : {},
      entries: s.entries.filter((e) => e.model === req.model),
    }),
  );
  const before = h.slots;
  const g = renewLease(copy, { ...req, id: `${req.id}#check` }, now);
  const more = (g.slots ?? 0) > before || (g.requests ?? 0) > 0 || (g.input ?? 0) > 0 || (g.output ?? 0) > 0;
  if (more) return undefined;
  return { retryAfterMs: g.retryAfterMs ?? MIN_RETRY_MS, reason: g.reason ?? 'nothing to grant yet' };
}
