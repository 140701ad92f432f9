/**
 * The worker side of admission control. Each worker process holds, per model, a lease from the
 * task queue's `llmLimiter` workflow (started if needed): concurrency slots and quota of each
 * configured rate limit (see src/core/lease.ts). Calls are admitted locally against the lease,
 * first come first served, and their usage is reported in aggregate at the next renewal; a
 * process renews one model's lease with one update when its calls need more than it holds, soon
 * after a throttle (so the fleet backs off together), and every few seconds while it holds
 * anything (which keeps its slots; a dead process's slots come back after the lease time).
 * Because the limiter is one workflow, the limits hold across every worker process and every run,
 * at a cost per process and renewal, not per call.
 */
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { limiterTaskQueue, limiterWorkflowId } from '../core/names';
import { PERMIT_REFUSED, type LeaseGrant, type ModelLimits, type SettleRequest } from '../core/limiter';
import type { LeaseRequest } from '../core/lease';
import { limiterStatusQuery, renewLeaseUpdate } from '../protocol';

/** A call asking to be admitted. */
export interface AdmissionRequest {
  model: string;
  prompt: string;
  system?: string;
  maxTokens: number;
  /** The calling workflow run: when one of its calls is cancelled, its waiting calls are held back a moment. */
  group?: string;
}

/** A granted permit; settle it exactly once. */
export interface Permit {
  /** `cancelled`: the call's activity was cancelled (its run is likely being cancelled as a whole). */
  settle(r: Omit<SettleRequest, 'permitId'> & { cancelled?: boolean }): Promise<void>;
}

/** Admission control as the activity sees it. */
export interface Admission {
  acquire(req: AdmissionRequest, signal: AbortSignal): Promise<Permit>;
}

/** Limits per model; `*` applies to models not listed. */
export type LimitsTable = Record<string, ModelLimits>;

/** Rough input-token estimate (about four characters per token); settled with the real count. */
export function estimateInputTokens(req: Pick<AdmissionRequest, 'prompt' | 'system'>): number {
  return Math.ceil(((req.system ?? '').length + req.prompt.length) / 4);
}

/** How long one try of a renewal may take (it normally takes milliseconds). */
const ASK_DEADLINE_MS = 20_000;
/** A limiter that has not answered for this long is bypassed (fail open) until it answers again. */
export const FAIL_OPEN_AFTER_MS = 30_000;
/** How often a process that failed open checks whether the limiter answers again. */
const REJOIN_PROBE_MS = 5_000;
/** Renewals for waiting calls are at least this far apart (a throttle report may go sooner). */
const MIN_RENEW_GAP_MS = 200;
/** A throttle is reported this soon (throttles of one burst share one report). */
const THROTTLE_REPORT_MS = 50;
/** A process with nothing left in flight and nothing waiting hands its lease back this soon. */
const IDLE_RELEASE_MS = 500;
/**
 * How long the waiting calls of a run whose call was cancelled are held back: long enough for
 * their own cancellation to arrive (a heartbeat interval plus the worker's heartbeat throttle).
 */
const CANCEL_HOLD_MS = 6000;
/** A lease is used for at most this fraction of the lease time after its renewal was sent (clock skew, transit). */
const LEASE_USE_FRACTION = 0.8;
/** Quota asked for ahead of the calls already waiting: the calls expected until the next renewal, and this much more. */
const PREFETCH_MARGIN = 1.25;
/** Spare slots asked for: the calls expected over this long (a slot is reused when its call ends). */
const SPARE_SLOTS_MS = 1000;
/** The arrival rate before the first renewal is measured over this long. */
const FIRST_RATE_MS = 2000;

/** The limiter did not answer within the fail-open time. */
class LimiterUnreachable extends Error {}

interface Waiter {
  group?: string;
  inputTokens: number;
  maxOutputTokens: number;
  /** Resolved, rejected or given up. */
  done: boolean;
  grant(p: Permit): void;
  fail(err: unknown): void;
}

type Quota = { requests: number | null; input: number | null; output: number | null };
interface Usage {
  success: number;
  throttled: number;
  failed: number;
  throttledSentAt?: number;
  retryAfterMs?: number;
  inputRefund: number;
  outputRefund: number;
}
const noUsage = (): Usage => ({ success: 0, throttled: 0, failed: 0, inputRefund: 0, outputRefund: 0 });

/** One model's lease in this process, its waiting calls and their bookkeeping. */
interface ModelLease {
  model: string;
  limits: ModelLimits;
  waiters: Waiter[];
  inFlight: number;
  /** Slots held (`null`: concurrency not limited). */
  slots: number | null;
  /** Quota left of the last grant (`null`: not limited). */
  quota: Quota;
  /** What happened since the last renewal. */
  usage: Usage;
  renewing: boolean;
  /** Renew again as soon as the renewal in flight ends. */
  again: boolean;
  timer?: NodeJS.Timeout;
  timerAt: number;
  /** A refusal's retry-after: no renewal for waiting calls before this. */
  notBefore: number;
  lastRenewAt: number;
  renewInMs: number;
  /** Calls that have arrived, and their rate (per ms, smoothed over renewals). */
  arrivals: number;
  /** `arrivals` at the last renewal (the rate is measured between renewals). */
  arrivalsAtRenewal: number;
  rate: number;
  avgInput: number;
  avgOutput: number;
  /** The model's adaptive limit, as the limiter last said. */
  limit?: number;
  /**
   * The lease is good until then (this process's clock, counted from when the renewal was sent):
   * the limiter takes a silent holder's slots back after its lease time, so past it nothing new
   * starts on them.
   */
  validUntil: number;
}

/** Admission through the limiter workflow on `taskQueue`. */
export class TemporalAdmission implements Admission {
  private readonly leases = new Map<string, ModelLease>();
  /** Runs whose calls are held back until then (one of their calls was cancelled). */
  private readonly heldBack = new Map<string, number>();
  /** This process, as the limiter knows it. */
  private readonly holder = randomUUID();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly limits: LimitsTable,
    private readonly windowMs = 60_000,
    /** A holder that has not renewed for this long is presumed dead: its slots go back to the fleet. */
    private readonly leaseMs = 15_000,
    /** The limiter's history length before it continues as new (default 4000; tests use a small one). */
    private readonly limiterMaxHistory?: number,
    /** How long the limiter may stay silent before calls go ahead without it (fail open). */
    private readonly failOpenAfterMs = FAIL_OPEN_AFTER_MS,
  ) {}

  /**
   * True while the limiter cannot be reached and calls go ahead without it, paced only by this
   * process's own flow control; a probe every few seconds rejoins it once it answers.
   */
  failedOpen = false;
  /** Calls admitted without the limiter since this process started. */
  admittedWithoutLimiter = 0;
  /** What this process asked of the limiter: renewals sent (applied), refused in the validator, calls admitted. */
  readonly stats = { renewals: 0, refusals: 0, admitted: 0 };
  /** Told when this process fails open and when it rejoins (metrics). */
  onFailOpen?: (failedOpen: boolean) => void;
  /** Told for each call admitted without the limiter (metrics). */
  onAdmittedWithout?: () => void;
  private probing?: NodeJS.Timeout;

  /** True when any limit is configured (otherwise the activity skips admission entirely). */
  static enabled(limits: LimitsTable): boolean {
    return Object.values(limits).some((l) => limited(l));
  }

  private closed = false;

  /** Stops renewing (the process is shutting down); calls still waiting are failed. */
  close(): void {
    this.closed = true;
    clearInterval(this.probing);
    for (const l of this.leases.values()) {
      clearTimeout(l.timer);
      for (const w of l.waiters) if (!w.done) w.fail(new Error('admission closed: the worker is shutting down'));
      l.waiters = [];
    }
  }

  /** This process's leases, for inspection. */
  leaseStatus(): Record<string, { slots: number | null; inFlight: number; waiting: number; quota: Quota; limit?: number }> {
    return Object.fromEntries([...this.leases].map(([m, l]) => [m, { slots: l.slots, inFlight: l.inFlight, waiting: l.waiters.length, quota: { ...l.quota }, limit: l.limit }]));
  }

  acquire(req: AdmissionRequest, signal: AbortSignal): Promise<Permit> {
    const limits = this.limits[req.model] ?? this.limits['*'] ?? {};
    // Nothing limited for this model: nothing to ask.
    if (!limited(limits)) return Promise.resolve(NO_PERMIT);
    return new Promise<Permit>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const l = this.lease(req.model, limits);
      const onAbort = () => {
        if (w.done) return;
        w.done = true;
        l.waiters = l.waiters.filter((x) => x !== w);
        reject(signal.reason);
      };
      const w: Waiter = {
        group: req.group,
        inputTokens: estimateInputTokens(req),
        maxOutputTokens: req.maxTokens,
        done: false,
        grant: (p) => {
          w.done = true;
          signal.removeEventListener('abort', onAbort);
          resolve(p);
        },
        fail: (err) => {
          w.done = true;
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      l.arrivals++;
      l.avgInput = l.avgInput ? 0.9 * l.avgInput + 0.1 * w.inputTokens : w.inputTokens;
      l.avgOutput = l.avgOutput ? 0.9 * l.avgOutput + 0.1 * w.maxOutputTokens : w.maxOutputTokens;
      l.waiters.push(w);
      this.drain(l);
    });
  }

  private lease(model: string, limits: ModelLimits): ModelLease {
    let l = this.leases.get(model);
    if (!l) {
      l = {
        model,
        limits,
        waiters: [],
        inFlight: 0,
        // Nothing held until the limiter grants it.
        slots: limits.adaptiveMax !== undefined ? 0 : null,
        quota: { requests: limits.rpm !== undefined ? 0 : null, input: limits.itpm !== undefined ? 0 : null, output: limits.otpm !== undefined ? 0 : null },
        usage: noUsage(),
        renewing: false,
        again: false,
        timerAt: 0,
        notBefore: 0,
        lastRenewAt: 0,
        renewInMs: Math.floor(this.leaseMs / 3),
        validUntil: 0,
        arrivals: 0,
        arrivalsAtRenewal: 0,
        rate: 0,
        avgInput: 0,
        avgOutput: 0,
      };
      this.leases.set(model, l);
    }
    return l;
  }

  /** Whether the first waiting call fits what the lease has left. */
  private fits(l: ModelLease, w: Waiter): boolean {
    if (Date.now() >= l.validUntil) return false;
    if (l.slots !== null && l.inFlight >= l.slots) return false;
    const q = l.quota;
    if (q.requests !== null && q.requests < 1) return false;
    // A call larger than the whole bucket was granted the whole bucket (it runs alone).
    if (q.input !== null && q.input < Math.min(w.inputTokens, l.limits.itpm ?? Infinity)) return false;
    if (q.output !== null && q.output < Math.min(w.maxOutputTokens, l.limits.otpm ?? Infinity)) return false;
    return true;
  }

  /** Admits waiting calls in order while they fit the lease; asks for more when the first does not. */
  private drain(l: ModelLease): void {
    l.waiters = l.waiters.filter((w) => !w.done);
    const now = Date.now();
    for (const [g, until] of this.heldBack) if (until <= now) this.heldBack.delete(g);
    let i = 0;
    while (i < l.waiters.length) {
      const w = l.waiters[i];
      // A run whose call was just cancelled is likely being cancelled: its other calls wait a moment.
      if (w.group && this.heldBack.has(w.group)) {
        i++;
        continue;
      }
      if (this.failedOpen) {
        // Fail open: the fleet must not stall on its limiter. Local flow control still paces.
        l.waiters.splice(i, 1);
        this.admittedWithoutLimiter++;
        this.onAdmittedWithout?.();
        w.grant(this.permit(l, { requests: 0, input: 0, output: 0 }, w.group));
        continue;
      }
      if (!this.fits(l, w)) break;
      l.waiters.splice(i, 1);
      const q = l.quota;
      const taken = {
        requests: q.requests === null ? 0 : 1,
        input: q.input === null ? 0 : Math.min(q.input, w.inputTokens),
        output: q.output === null ? 0 : Math.min(q.output, w.maxOutputTokens),
      };
      if (q.requests !== null) q.requests -= taken.requests;
      if (q.input !== null) q.input -= taken.input;
      if (q.output !== null) q.output -= taken.output;
      this.stats.admitted++;
      w.grant(this.permit(l, taken, w.group));
    }
    // A waiting call (not held back) does not fit: ask for more.
    if (i < l.waiters.length && !this.failedOpen) this.schedule(l, Math.max(l.notBefore - Date.now(), l.lastRenewAt + MIN_RENEW_GAP_MS - Date.now(), 0));
  }

  /** A call admitted against the lease: ending it frees its slot locally and adds to the next report. */
  private permit(l: ModelLease, taken: { requests: number; input: number; output: number }, group?: string): Permit {
    let settled = false;
    l.inFlight++;
    return {
      settle: async (r) => {
        if (settled) return;
        settled = true;
        l.inFlight--;
        if (r.outcome === 'unused') {
          // Never sent: its quota is still good.
          if (l.quota.requests !== null) l.quota.requests += taken.requests;
          if (l.quota.input !== null) l.quota.input += taken.input;
          if (l.quota.output !== null) l.quota.output += taken.output;
        } else {
          const u = l.usage;
          if (r.outcome === 'success') u.success++;
          if (r.outcome === 'error') u.failed++;
          if (r.outcome === 'throttled') {
            u.throttled++;
            u.throttledSentAt = Math.min(u.throttledSentAt ?? Infinity, r.sentAt ?? Date.now());
            if (r.retryAfterMs !== undefined) u.retryAfterMs = Math.max(u.retryAfterMs ?? 0, r.retryAfterMs);
          }
          // What the reservation took beyond the real usage goes back (a failed call without
          // usage produced no output; its input counts, as the provider may have read it).
          if (l.quota.input !== null) u.inputRefund += taken.input - (r.tokens?.input ?? taken.input);
          if (l.quota.output !== null) u.outputRefund += taken.output - (r.tokens?.output ?? (r.outcome === 'success' ? taken.output : 0));
        }
        // When a run is cancelled, the cancellations of its waiting calls arrive over their next
        // heartbeats: they should not take the freed slot just to be aborted. Other runs' calls may.
        if (r.cancelled && group) {
          this.heldBack.set(group, Date.now() + CANCEL_HOLD_MS);
          setTimeout(() => this.drain(l), CANCEL_HOLD_MS + 10).unref();
        }
        this.drain(l);
        if (r.outcome === 'throttled') this.schedule(l, THROTTLE_REPORT_MS);
        else if (l.inFlight === 0 && !l.waiters.length) this.schedule(l, IDLE_RELEASE_MS);
      },
    };
  }

  /** Renews the model's lease in `delayMs` (or sooner if already scheduled sooner). */
  private schedule(l: ModelLease, delayMs: number): void {
    if (this.closed) return;
    if (l.renewing) {
      if (delayMs <= THROTTLE_REPORT_MS) l.again = true;
      return;
    }
    const at = Date.now() + delayMs;
    if (l.timer && l.timerAt <= at) return;
    clearTimeout(l.timer);
    l.timerAt = at;
    l.timer = setTimeout(() => {
      l.timer = undefined;
      void this.renew(l);
    }, delayMs);
    l.timer.unref();
  }

  private isHeldBack(w: Waiter): boolean {
    return w.group !== undefined && (this.heldBack.get(w.group) ?? 0) > Date.now();
  }

  /** Whether the lease holds or owes the limiter anything (then it keeps renewing). */
  private holding(l: ModelLease): boolean {
    const q = l.quota;
    const u = l.usage;
    return (
      l.inFlight > 0 ||
      l.waiters.length > 0 ||
      (l.slots ?? 0) > 0 ||
      (q.requests ?? 0) > 0 ||
      (q.input ?? 0) > 0 ||
      (q.output ?? 0) > 0 ||
      u.success > 0 ||
      u.throttled > 0 ||
      u.failed > 0 ||
      u.inputRefund !== 0 ||
      u.outputRefund !== 0
    );
  }

  /** One renewal: hand back the unused quota, report the usage, get the new lease. */
  private async renew(l: ModelLease): Promise<void> {
    if (l.renewing || this.failedOpen || this.closed) return;
    l.renewing = true;
    l.again = false;
    const now = Date.now();
    const elapsed = Math.max(1, now - (l.lastRenewAt || now - FIRST_RATE_MS));
    l.rate = 0.5 * l.rate + 0.5 * ((l.arrivals - l.arrivalsAtRenewal) / elapsed);
    l.arrivalsAtRenewal = l.arrivals;
    l.lastRenewAt = now;
    l.waiters = l.waiters.filter((w) => !w.done);
    const ahead = Math.min(100, Math.ceil(l.rate * l.renewInMs * PREFETCH_MARGIN));
    const returned = { requests: l.quota.requests ?? 0, input: l.quota.input ?? 0, output: l.quota.output ?? 0 };
    const usage = l.usage;
    l.usage = noUsage();
    // The quota handed back is not spent while the renewal is on its way.
    const held = { ...l.quota };
    l.quota = { requests: held.requests === null ? null : 0, input: held.input === null ? null : 0, output: held.output === null ? null : 0 };
    const first = l.waiters[0];
    const arrivedBefore = l.arrivals;
    const request: LeaseRequest = {
      id: randomUUID(),
      holder: this.holder,
      model: l.model,
      limits: l.limits,
      windowMs: this.windowMs,
      leaseMs: this.leaseMs,
      inFlight: l.inFlight,
      want: {
        slots: l.inFlight + l.waiters.length,
        requests: l.waiters.length,
        input: l.waiters.reduce((n, w) => n + w.inputTokens, 0),
        output: l.waiters.reduce((n, w) => n + w.maxOutputTokens, 0),
      },
      // The calls expected before the next renewal, so they find quota here instead of asking.
      // Slots are reused as calls end, so spare slots only cover about a second of arrivals.
      ahead: { slots: Math.min(ahead, Math.ceil(l.rate * SPARE_SLOTS_MS)), requests: ahead, input: Math.ceil(ahead * l.avgInput), output: Math.ceil(ahead * l.avgOutput) },
      ...(first ? { first: { input: first.inputTokens, output: first.maxOutputTokens } } : {}),
      returned,
      usage,
    };
    try {
      const g = await this.ask(request);
      if ('refused' in g) {
        // Not applied: what was handed back and reported is still this process's.
        this.stats.refusals++;
        l.quota = held;
        mergeUsage(l.usage, usage);
        l.notBefore = Date.now() + g.retryAfterMs;
      } else {
        this.stats.renewals++;
        l.validUntil = now + LEASE_USE_FRACTION * this.leaseMs;
        l.slots = g.slots;
        l.quota = { requests: g.requests, input: g.input, output: g.output };
        l.renewInMs = g.renewInMs;
        l.notBefore = g.retryAfterMs ? Date.now() + g.retryAfterMs : 0;
        l.limit = g.limit;
      }
    } catch (err) {
      l.quota = held;
      mergeUsage(l.usage, usage);
      if (err instanceof LimiterUnreachable) this.failOpen(err.message);
      else {
        // The limiter rejected the request itself (invalid): the calls cannot be admitted.
        for (const w of l.waiters) if (!w.done) w.fail(err);
        l.waiters = [];
      }
    } finally {
      l.renewing = false;
    }
    this.drain(l);
    // Calls that arrived while the renewal was on its way were not asked for: ask for them now.
    const unasked = l.waiters.length > 0 && l.arrivals > arrivedBefore && l.notBefore <= Date.now();
    if (l.again || unasked) this.schedule(l, 0);
    else if (this.holding(l) && !this.failedOpen) this.schedule(l, l.waiters.some((w) => !this.isHeldBack(w)) ? Math.max(MIN_RENEW_GAP_MS, l.notBefore - Date.now()) : l.renewInMs);
  }

  /** Goes on without the limiter, and probes it until it answers again. */
  private failOpen(why: string): void {
    if (this.failedOpen) return;
    this.failedOpen = true;
    this.onFailOpen?.(true);
    console.error(`llm limiter: failing open: ${why}; calls go ahead paced by this process's own flow control until the limiter answers again`);
    const probe = async () => {
      try {
        await this.client.withDeadline(Date.now() + REJOIN_PROBE_MS, () => this.client.workflow.getHandle(limiterWorkflowId(this.taskQueue)).query(limiterStatusQuery));
        this.failedOpen = false;
        this.onFailOpen?.(false);
        clearInterval(this.probing);
        this.probing = undefined;
        console.error(`llm limiter: it answers again; rejoined after admitting ${this.admittedWithoutLimiter} calls without it`);
        for (const l of this.leases.values()) if (this.holding(l)) this.schedule(l, 0);
      } catch {
        // Still silent: go on without it.
      }
    };
    this.probing = setInterval(() => void probe(), REJOIN_PROBE_MS);
    this.probing.unref();
    for (const l of this.leases.values()) this.drain(l);
  }

  /**
   * One renewal update (started with the limiter if it is not running). A refusal (rejected in
   * the validator, never in history) says when to ask again. Each try has a deadline, and a try
   * that times out or fails in transit (the server restarting, say) is repeated with the same
   * update id, which the server deduplicates; after the fail-open time without an answer it gives up.
   */
  private async ask(request: LeaseRequest): Promise<LeaseGrant | { refused: true; retryAfterMs: number; reason: string }> {
    const firstTry = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.withDeadline(Date.now() + Math.min(ASK_DEADLINE_MS, this.failOpenAfterMs), () =>
          this.client.workflow.executeUpdateWithStart(renewLeaseUpdate, {
            args: [request],
            updateId: request.id,
            startWorkflowOperation: new WithStartWorkflowOperation('llmLimiter', {
              workflowId: limiterWorkflowId(this.taskQueue),
              taskQueue: limiterTaskQueue(this.taskQueue),
              args: [this.limiterMaxHistory ? { maxHistory: this.limiterMaxHistory } : {}],
              workflowIdConflictPolicy: 'USE_EXISTING',
            }),
          }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === PERMIT_REFUSED) {
          return { refused: true, retryAfterMs: Number(err.cause.details?.[0] ?? 250), reason: err.cause.message };
        }
        if (err instanceof WorkflowUpdateFailedError) throw new Error(`LLM limiter rejected the request: ${err.cause?.message ?? err.message}`);
        if (this.closed) throw new Error('admission closed: the worker is shutting down');
        if (Date.now() - firstTry >= this.failOpenAfterMs)
          throw new LimiterUnreachable(`no answer for ${Math.round((Date.now() - firstTry) / 1000)} s (${err instanceof Error ? err.message : String(err)})`);
        if (attempt === 1 || attempt % 10 === 0) console.error(`llm limiter: renewing the lease failed (${err instanceof Error ? err.message : String(err)}); trying again`);
        await new Promise((r) => setTimeout(r, Math.min(2000, 250 * attempt)));
      }
    }
  }
}

/** Whether a model's limits ask for admission at all. */
function limited(l: ModelLimits): boolean {
  return Boolean(l.rpm || l.itpm || l.otpm || l.adaptiveMax);
}

/** A permit for a model without limits: nothing to settle. */
const NO_PERMIT: Permit = { settle: async () => {} };

function mergeUsage(into: Usage, u: Usage): void {
  into.success += u.success;
  into.throttled += u.throttled;
  into.failed += u.failed;
  into.inputRefund += u.inputRefund;
  into.outputRefund += u.outputRefund;
  if (u.throttledSentAt !== undefined) into.throttledSentAt = Math.min(into.throttledSentAt ?? Infinity, u.throttledSentAt);
  if (u.retryAfterMs !== undefined) into.retryAfterMs = Math.max(into.retryAfterMs ?? 0, u.retryAfterMs);
}
