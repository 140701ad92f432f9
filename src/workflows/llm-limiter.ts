/**
 * The `llmLimiter` workflow: one long-lived admission controller per task queue, shared by every
 * worker and run. LLM activities ask it for a permit (`acquirePermit` update) before each call
 * and settle the permit afterwards (`settlePermit` signal). Handlers never wait: a refusal says
 * when to ask again, so handlers finish at once and the workflow can continue-as-new cleanly.
 */
import { ApplicationFailure, allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, defineUpdate, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  PERMIT_REFUSED,
  acquire,
  acquireRequestSchema,
  check,
  describeLimiter,
  initialLimiterState,
  settle,
  type AcquireRequest,
  type AcquireResponse,
  type LimiterState,
  type SettleRequest,
} from '../core/limiter';

/** Asks for a permit. */
export const acquirePermitUpdate = defineUpdate<AcquireResponse, [AcquireRequest]>('acquirePermit');
/** Reports how a permitted call ended. */
export const settlePermitSignal = defineSignal<[SettleRequest]>('settlePermit');
/** Current counters and adaptive limits. */
export const limiterStatusQuery = defineQuery<ReturnType<typeof describeLimiter>>('limiterStatus');

/** History length after which the limiter continues as new with its state. */
const MAX_HISTORY = 4000;

/** Runs admission control until its history grows, then continues as new with the same state. */
export async function llmLimiter(input: { state?: LimiterState } = {}): Promise<void> {
  const state = input.state ?? initialLimiterState();
  setHandler(acquirePermitUpdate, (req) => acquire(state, req, Date.now()), {
    // Refusals are rejected here, so they never reach history: a busy limiter refuses far more
    // often than it grants, and its history would otherwise grow with every retry.
    validator: (req) => {
      const r = acquireRequestSchema.safeParse(req);
      if (!r.success) throw new Error(`invalid permit request: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const refusal = check(state, r.data, Date.now());
      if (refusal) throw ApplicationFailure.create({ type: PERMIT_REFUSED, message: refusal.reason, details: [refusal.retryAfterMs] });
    },
  });
  setHandler(settlePermitSignal, (req) => settle(state, req, Date.now()));
  setHandler(limiterStatusQuery, () => describeLimiter(state, Date.now()));
  await condition(() => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY);
  await condition(allHandlersFinished);
  await continueAsNew<typeof llmLimiter>({ state });
}
