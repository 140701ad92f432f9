/**
 * The worker side of admission control: before each LLM call the activity asks the task queue's
 * `llmLimiter` workflow for a permit (starting it if needed), waits and asks again while refused,
 * and settles the permit with the real usage afterwards. Because the limiter is one workflow, the
 * budgets hold across every worker process and every run.
 *
 * Calls waiting in one worker process queue up locally and are asked for together: one update
 * per model at a time carries the whole queue (granted in order as far as it fits), so a hundred
 * waiting calls cost one request every retry-after, not a hundred. When one of this process's
 * calls settles, the queue is asked again at once: its slot is free now.
 */
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { limiterTaskQueue } from '../core/names';
import { PERMIT_REFUSED, type AcquireBatchResponse, type ModelLimits, type SettleRequest } from '../core/limiter';
import { acquirePermitsUpdate, heldPermitsSignal, limiterStatusQuery, settlePermitSignal } from '../workflows/llm-limiter';

/** A call asking to be admitted. */
export interface AdmissionRequest {
  model: string;
  prompt: string;
  system?: string;
  maxTokens: number;
}

/** A granted permit; settle it exactly once. */
export interface Permit {
  settle(r: Omit<SettleRequest, 'permitId'>): Promise<void>;
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

/** The limiter workflow's id for a task queue. */
export function limiterWorkflowId(taskQueue: string): string {
  return `llm-limiter-${taskQueue}`;
}

/** Requests in one batch update (the rest of a longer queue goes in the next one). */
const MAX_BATCH = 100;
/** How long one try of a batch update may take (it normally takes milliseconds). */
const ASK_DEADLINE_MS = 20_000;
/** How long a settle is retried (a lost settle holds a concurrency slot until the next report). */
const SETTLE_RETRY_MS = 120_000;
/** How often a worker process reports the permits it holds (renewing their leases, repairing lost settles). */
const REPORT_MS = 5_000;
/** A limiter that has not answered for this long is bypassed (fail open) until it answers again. */
export const FAIL_OPEN_AFTER_MS = 30_000;
/** How often a process that failed open checks whether the limiter answers again. */
const REJOIN_PROBE_MS = 5_000;

/** The limiter did not answer within the fail-open time. */
class LimiterUnreachable extends Error {}

/** A permit granted locally while the limiter cannot be reached: nothing to settle. */
const LOCAL_PERMIT: Permit = { settle: async () => {} };

interface Waiter {
  inputTokens: number;
  maxOutputTokens: number;
  /** Resolved, rejected or given up: a permit granted to it now is released at once. */
  done: boolean;
  grant(p: Permit): void;
  fail(err: unknown): void;
}

/** The waiting calls of one model in this process, and the loop asking for them. */
interface ModelQueue {
  waiters: Waiter[];
  running: boolean;
  /** Ends the loop's wait for a refusal's retry-after early. */
  wake?: () => void;
  /** Set when a permit settled while the loop was asking: ask again without waiting. */
  woken: boolean;
}

/** Admission through the limiter workflow on `taskQueue`. */
export class TemporalAdmission implements Admission {
  private readonly queues = new Map<string, ModelQueue>();
  /** This process, as the limiter knows it. */
  private readonly holder = randomUUID();
  /** Permits granted to this process and not yet settled. */
  private readonly held = new Set<string>();
  /** Per model, the highest permit number received. */
  private readonly seen: Record<string, number> = {};
  private reporting?: NodeJS.Timeout;
  /** Whether the limiter may believe this process holds something: a grant or a non-empty report since the last empty one. */
  private reportDue = false;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly limits: LimitsTable,
    private readonly windowMs = 60_000,
    // A permit whose holder has not reported it for this long belongs to a dead worker (live
    // workers report every REPORT_MS, which renews the lease of every permit they hold).
    private readonly leaseMs = 60_000,
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
  /** Told when this process fails open and when it rejoins (metrics). */
  onFailOpen?: (failedOpen: boolean) => void;
  /** Told for each call admitted without the limiter (metrics). */
  onAdmittedWithout?: () => void;
  private probing?: NodeJS.Timeout;

  /** True when any limit is configured (otherwise the activity skips admission entirely). */
  static enabled(limits: LimitsTable): boolean {
    return Object.values(limits).some((l) => l.rpm || l.itpm || l.otpm || l.adaptiveMax);
  }

  acquire(req: AdmissionRequest, signal: AbortSignal): Promise<Permit> {
    return new Promise<Permit>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      let q = this.queues.get(req.model);
      if (!q) this.queues.set(req.model, (q = { waiters: [], running: false, woken: false }));
      const queue = q;
      const onAbort = () => {
        if (w.done) return;
        w.done = true;
        queue.waiters = queue.waiters.filter((x) => x !== w);
        reject(signal.reason);
      };
      const w: Waiter = {
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
      queue.waiters.push(w);
      if (!queue.running) void this.pump(req.model, queue);
    });
  }

  /** Asks for the queue's permits until it is empty. */
  private async pump(model: string, q: ModelQueue): Promise<void> {
    q.running = true;
    try {
      while (q.waiters.length) {
        const batch = q.waiters.slice(0, MAX_BATCH);
        q.woken = false;
        let r: AcquireBatchResponse;
        try {
          if (this.failedOpen) throw new LimiterUnreachable('failed open');
          r = await this.ask(model, batch);
        } catch (err) {
          if (err instanceof LimiterUnreachable) {
            // Fail open: the fleet must not stall on its limiter. Local flow control still paces.
            this.failOpen(err.message);
            for (const w of batch) {
              if (w.done) continue;
              this.admittedWithoutLimiter++;
              this.onAdmittedWithout?.();
              w.grant(LOCAL_PERMIT);
            }
          } else for (const w of batch) if (!w.done) w.fail(err);
          q.waiters = q.waiters.filter((w) => !w.done);
          continue;
        }
        r.permitIds.forEach((permitId, i) => {
          const permit = this.permit(permitId, model, q);
          const w = batch[i];
          // Its call gave up while the update was on its way: hand the slot back.
          if (w.done) void permit.settle({ outcome: 'unused' });
          else w.grant(permit);
        });
        q.waiters = q.waiters.filter((w) => !w.done);
        if (r.permitIds.length < batch.length && !q.woken) await this.pause(q, r.retryAfterMs ?? 100);
      }
    } finally {
      q.running = false;
    }
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
      } catch {
        // Still silent: go on without it.
      }
    };
    this.probing = setInterval(() => void probe(), REJOIN_PROBE_MS);
    this.probing.unref();
  }

  /** Waits for a refusal's retry-after, or less if one of this process's permits settles. */
  private pause(q: ModelQueue, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        q.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      q.wake = done;
    });
  }

  /**
   * One batch update: the permits granted, or (a rejected update, never in history) when to ask
   * again. Each try has a deadline, and a try that times out or fails in transit (the server
   * restarting, say) is repeated with the same update id, which the server deduplicates: a grant
   * whose answer was lost is returned again instead of granted twice. Tries go on while any call
   * of the batch still waits: nothing can run without the server anyway, and failing the calls
   * would spend their attempts on an outage.
   */
  private async ask(model: string, batch: Waiter[]): Promise<AcquireBatchResponse> {
    const limits = this.limits[model] ?? this.limits['*'] ?? {};
    const updateId = randomUUID();
    const firstTry = Date.now();
    const request = { model, limits, windowMs: this.windowMs, leaseMs: this.leaseMs, batchId: updateId, holder: this.holder, requests: batch.map((w) => ({ inputTokens: w.inputTokens, maxOutputTokens: w.maxOutputTokens })) };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.withDeadline(Date.now() + Math.min(ASK_DEADLINE_MS, this.failOpenAfterMs), () =>
          this.client.workflow.executeUpdateWithStart(acquirePermitsUpdate, {
            args: [request],
            updateId,
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
          return { permitIds: [], retryAfterMs: Number(err.cause.details?.[0] ?? 100), reason: err.cause.message };
        }
        if (err instanceof WorkflowUpdateFailedError) throw new Error(`LLM limiter rejected the request: ${err.cause?.message ?? err.message}`);
        if (batch.every((w) => w.done)) throw err;
        if (Date.now() - firstTry >= this.failOpenAfterMs) throw new LimiterUnreachable(`no answer for ${Math.round((Date.now() - firstTry) / 1000)} s (${err instanceof Error ? err.message : String(err)})`);
        if (attempt === 1 || attempt % 10 === 0) console.error(`llm limiter: asking for permits failed (${err instanceof Error ? err.message : String(err)}); trying again`);
        await new Promise((r) => setTimeout(r, Math.min(2000, 250 * attempt)));
      }
    }
  }

  /** A granted permit: settling it tells the limiter (retried: a lost settle holds a slot until the lease ends) and wakes the queue. */
  private permit(permitId: string, model: string, q: ModelQueue): Permit {
    let settled = false;
    const workflowId = limiterWorkflowId(this.taskQueue);
    this.held.add(permitId);
    this.reportDue = true;
    this.seen[model] = Math.max(this.seen[model] ?? 0, Number(permitId.slice(1)) || 0);
    this.startReporting();
    return {
      settle: async (outcome) => {
        if (settled) return;
        settled = true;
        const giveUpAt = Date.now() + SETTLE_RETRY_MS;
        for (let attempt = 1; ; attempt++) {
          try {
            await this.client.workflow.getHandle(workflowId).signal(settlePermitSignal, { permitId, ...outcome });
            break;
          } catch (err) {
            if (Date.now() > giveUpAt) {
              // The next report says it is no longer held, which settles it.
              console.error(`llm limiter: could not settle permit ${permitId} (${err instanceof Error ? err.message : String(err)}); the next report will`);
              this.held.delete(permitId);
              return;
            }
            await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
          }
        }
        // Only now: a report sent before the settle took effect would settle it without its usage.
        this.held.delete(permitId);
        // A slot of this model is free now: ask for the waiting calls without waiting out the retry-after.
        q.woken = true;
        q.wake?.();
      },
    };
  }

  /**
   * Every REPORT_MS while this process holds permits (and once after it holds none), tell
   * the limiter which ones: their leases are renewed, and permits it received and settled but
   * whose settle never took effect are settled. A lost signal then costs a slot for seconds, not
   * for a lease.
   */
  private startReporting(): void {
    if (this.reporting) return;
    this.reporting = setInterval(() => void this.report(), REPORT_MS);
    this.reporting.unref();
  }

  private async report(): Promise<void> {
    if (!this.reportDue && this.held.size === 0) return;
    const report = { holder: this.holder, held: [...this.held], seen: { ...this.seen }, leaseMs: this.leaseMs };
    this.reportDue = false;
    try {
      await this.client.workflow.getHandle(limiterWorkflowId(this.taskQueue)).signal(heldPermitsSignal, report);
      // Holding nothing and said so: nothing more to say until the next grant.
      if (report.held.length > 0) this.reportDue = true;
    } catch {
      // The next report carries the same information.
      this.reportDue = true;
    }
  }
}
