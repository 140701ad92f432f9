/**
 * The worker side of admission control: before each LLM call the activity asks the task queue's
 * `llmLimiter` workflow for a permit (starting it if needed), waits and asks again while refused,
 * and settles the permit with the real usage afterwards. Because the limiter is one workflow, the
 * budgets hold across every worker process and every run.
 */
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { PERMIT_REFUSED, type AcquireResponse, type ModelLimits, type SettleRequest } from '../core/limiter';
import { acquirePermitUpdate, settlePermitSignal } from '../workflows/llm-limiter';

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

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** Admission through the limiter workflow on `taskQueue`. */
export class TemporalAdmission implements Admission {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly limits: LimitsTable,
    private readonly windowMs = 60_000,
    // A permit not settled within the LLM attempt timeout (5 min) belongs to a dead worker.
    private readonly leaseMs = 5 * 60_000,
  ) {}

  /** True when any limit is configured (otherwise the activity skips admission entirely). */
  static enabled(limits: LimitsTable): boolean {
    return Object.values(limits).some((l) => l.rpm || l.itpm || l.otpm || l.adaptiveMax);
  }

  async acquire(req: AdmissionRequest, signal: AbortSignal): Promise<Permit> {
    const limits = this.limits[req.model] ?? this.limits['*'] ?? {};
    const request = { model: req.model, inputTokens: estimateInputTokens(req), maxOutputTokens: req.maxTokens, limits, windowMs: this.windowMs, leaseMs: this.leaseMs };
    const workflowId = limiterWorkflowId(this.taskQueue);
    for (;;) {
      const r = await this.client.workflow.executeUpdateWithStart(acquirePermitUpdate, {
        args: [request],
        startWorkflowOperation: new WithStartWorkflowOperation('llmLimiter', {
          workflowId,
          taskQueue: this.taskQueue,
          args: [{}],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      }).catch((err: unknown): AcquireResponse => {
        // A refusal comes back as a rejected update (it never reaches the limiter's history).
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === PERMIT_REFUSED) {
          return { granted: false, retryAfterMs: Number(err.cause.details?.[0] ?? 100), reason: err.cause.message };
        }
        if (err instanceof WorkflowUpdateFailedError) throw new Error(`LLM limiter rejected the request: ${err.cause?.message ?? err.message}`);
        throw err;
      });
      if (r.granted) {
        const permitId = r.permitId;
        let settled = false;
        return {
          settle: async (outcome) => {
            if (settled) return;
            settled = true;
            // A lost settle would hold a concurrency slot until the lease expires: try a few times.
            for (let attempt = 1; ; attempt++) {
              try {
                await this.client.workflow.getHandle(workflowId).signal(settlePermitSignal, { permitId, ...outcome });
                return;
              } catch (err) {
                if (attempt >= 5) {
                  console.error(`llm limiter: could not settle permit ${permitId} (${err instanceof Error ? err.message : String(err)}); its lease will reclaim it`);
                  return;
                }
                await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
              }
            }
          },
        };
      }
      await sleep(r.retryAfterMs, signal);
    }
  }
}
