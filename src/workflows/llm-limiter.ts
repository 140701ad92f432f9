/**
 * The `llmLimiter` workflow: one long-lived admission controller per task queue, shared by every
 * worker and run. Each worker process holds a lease per model (concurrency slots and rate quota,
 * see src/core/lease.ts) and renews it with one `renewLease` update every few seconds, reporting
 * its usage in aggregate: no update or signal per call. The first protocol (a permit per call:
 * `acquirePermits` update, `settlePermit` and `heldPermits` signals) is still served, for workers
 * of an older version during a rolling deploy and for recorded histories.
 * Handlers never wait: a refusal says when to ask again, so handlers finish at once, no update
 * stays in flight (the server allows only a few per workflow) and continue-as-new is clean.
 */
import { ApplicationFailure, allHandlersFinished, condition, continueAsNew, log, metricMeter, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  PERMIT_REFUSED,
  acquire,
  acquireBatch,
  acquireBatchSchema,
  acquireRequestSchema,
  check,
  checkBatch,
  describeLimiter,
  heldReportSchema,
  initialLimiterState,
  settle,
  settleRequestSchema,
  type LimiterState,
  reconcile,
} from '../core/limiter';
import { leaseRefusal, leaseRequestSchema, renewLease } from '../core/lease';
import { acquirePermitUpdate, acquirePermitsUpdate, heldPermitsSignal, limiterStatusQuery, renewLeaseUpdate, settlePermitSignal } from '../protocol';

/** History length after which the limiter continues as new with its state. */
const MAX_HISTORY = 4000;

/** Runs admission control until its history grows, then continues as new with the same state. */
export async function llmLimiter(input: { state?: LimiterState; /** Continue as new past this many events (tests use a small one). */ maxHistory?: number } = {}): Promise<void> {
  const maxHistory = input.maxHistory ?? MAX_HISTORY;
  const state = input.state ?? initialLimiterState();
  // The bounded state (settled calls folded into usage buckets, batches as first + count) is a
  // change of accounting: runs that started before it keep the old one until they continue as new.
  state.compact = patched('limiter-usage-buckets');
  // Leases (src/core/lease.ts) share the limits with permits: permits count leased slots and
  // spend from the same buckets. Runs that started before keep judging permits alone.
  state.leasing = patched('limiter-leases');
  // Settles first: signals that arrived before this run's first task are dispatched when their
  // handler is registered, and a permit request in the same task must see the slots they free.
  // A signal cannot be refused, and one that throws would fail every workflow task after it (the
  // whole fleet would wait on a wedged limiter): a malformed one (a version skew, a hand-sent
  // signal) is dropped with a warning and a metric.
  const malformed = metricMeter.createCounter('llm_limiter_malformed_signals', 'signals', 'signals the llmLimiter dropped because their input was malformed');
  const drop = (name: string, issues: { path: PropertyKey[]; message: string }[]) => {
    malformed.add(1, { signal: name });
    log.warn('llmLimiter dropped a malformed signal', { signal: name, problems: issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ') });
  };
  setHandler(settlePermitSignal, (req) => {
    const r = settleRequestSchema.safeParse(req);
    if (r.success) settle(state, r.data, Date.now());
    else drop('settlePermit', r.error.issues);
  });
  setHandler(heldPermitsSignal, (report) => {
    const r = heldReportSchema.safeParse(report);
    if (r.success) reconcile(state, r.data, Date.now());
    else drop('heldPermits', r.error.issues);
  });
  const invalid = (issues: { path: PropertyKey[]; message: string }[], what = 'permit request') =>
    new Error(`invalid ${what}: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const refused = (r: { reason: string; retryAfterMs: number }) => ApplicationFailure.create({ type: PERMIT_REFUSED, message: r.reason, details: [r.retryAfterMs] });
  // In the workflow task that continues as new, every request is refused (asked again in a moment,
  // it lands on the new run), so no permit is granted in that task: an update completed in the same
  // task as continue-as-new is sometimes applied again on the new run (temporalio/temporal#6375),
  // and the first grant, carried over in the state, would never be settled. The test is the same
  // one the main loop waits on, and it is fixed for a whole task (history length at its start).
  const continuing = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > maxHistory;
  const CONTINUING = { reason: 'limiter is continuing as new', retryAfterMs: 50 };
  // Refusals are rejected in the validators, so they never reach history: a busy limiter refuses
  // far more often than it grants, and its history would otherwise grow with every retry.
  setHandler(renewLeaseUpdate, (req) => renewLease(state, req, Date.now()), {
    validator: (req) => {
      const r = leaseRequestSchema.safeParse(req);
      if (!r.success) throw invalid(r.error.issues, 'lease renewal');
      // Accepted even in the task that continues as new: a renewal applied again on the new run
      // (temporalio/temporal#6375) is recognised by its id and answered from memory, not applied
      // twice. Refusing here would leave the run without a task to continue in (a rejected
      // update's task is not recorded), and renewals are the only traffic leases make.
      const refusal = leaseRefusal(state, r.data, Date.now());
      if (refusal) throw refused(refusal);
    },
  });
  setHandler(acquirePermitsUpdate, (req) => acquireBatch(state, req, Date.now()), {
    validator: (req) => {
      const r = acquireBatchSchema.safeParse(req);
      if (!r.success) throw invalid(r.error.issues);
      if (continuing()) throw refused(CONTINUING);
      const refusal = checkBatch(state, r.data, Date.now());
      if (refusal) throw refused(refusal);
    },
  });
  setHandler(acquirePermitUpdate, (req) => acquire(state, req, Date.now()), {
    validator: (req) => {
      const r = acquireRequestSchema.safeParse(req);
      if (!r.success) throw invalid(r.error.issues);
      if (continuing()) throw refused(CONTINUING);
      const refusal = check(state, r.data, Date.now());
      if (refusal) throw refused(refusal);
    },
  });
  setHandler(limiterStatusQuery, () => describeLimiter(state, Date.now()));
  await condition(continuing);
  await condition(allHandlersFinished);
  await continueAsNew<typeof llmLimiter>({ state, maxHistory: input.maxHistory });
}
