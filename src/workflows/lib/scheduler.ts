/**
 * The one scheduler of workflow code, under runBounded (a fan-out: jobs without dependencies,
 * ranked by input order) and executeGraph (DAG nodes, ranked critical-path-first). Each job
 *   1. awaits its dependencies' results (no level barriers: it moves on the moment they are in);
 *   2. ends `cancelled before it started` if the run was cancelled or failed fast meanwhile, or
 *      `skipped` (reason from dependencySkipReason) if a dependency did not succeed, unless it
 *      tolerates that;
 *   3. waits for a slot of the ranked slots (lowest rank first; cancelled while waiting:
 *      `cancelled before it started`);
 *   4. holding the slot: is refused if the budget is spent, else is marked running, asks for its
 *      call (which may say there is nothing to call: skipped) and runs it under the budget gate;
 *   5. with failFast, the first failed job cancels the scope: in-flight siblings are cancelled,
 *      waiting ones end cancelled before start, and the run fails with the caller's failure
 *      carrying every result.
 * Activities are scheduled in slot-grant order, so the same inputs give the same commands.
 */
import { ApplicationFailure, CancellationScope, condition, isCancellation } from '@temporalio/workflow';
import type { ProgressTracker } from '../../core/progress';
import { cancelledBeforeStart, dependencySkipReason, notRunForBudget, skipped } from '../../core/results';
import type { CallOptions, TaskResult } from '../../core/tasks';
import type { BudgetGate } from './budget-gate';
import type { CallPolicy } from './policy';
import { RankedSlots } from './ranked-slots';

/** Default in-flight cap of one run when the input does not set one. */
export const DEFAULT_MAX_CONCURRENT = 50;

/** Options every scheduled batch takes (runBounded's and executeGraph's options extend them). */
export interface SchedulingOptions extends CallOptions {
  maxConcurrent?: number;
  progress?: ProgressTracker;
  /** How LLM (and tool) activities are scheduled: task queue, timeouts, retries. */
  policy?: CallPolicy;
  /** The run's budget gate when the run spans several batches (pipeline stages, decompose steps): one budget for all. */
  budgetGate?: BudgetGate;
}

/** What a job does once it holds a slot: one call, or nothing worth calling (skipped with this reason). */
export type JobCall = { run: () => Promise<TaskResult> } | { skip: string };

/** One job: a task, where it waits, and how it is called. */
export interface Job<R extends TaskResult> {
  taskId: string;
  name: string;
  /** Lower ranks get a free slot first (ties: first to ask). */
  rank: number;
  /** Positions of the jobs whose results this one waits for, in the order its call sees them. */
  after: readonly number[];
  /** Run even when some dependencies failed or were skipped. */
  tolerateFailedDeps?: boolean;
  /** Called with the slot held, the budget checked and the job marked running. */
  call: (deps: R[]) => JobCall;
}

/** How a job ended up with its result. */
export type JobOutcome = 'cancelled-before-start' | 'dependency-skipped' | 'budget-refused' | 'nothing-to-call' | 'ran';

/** When a job became ready (all dependencies done), got a slot, and finished, in workflow time (ms); null where it never got. */
export interface JobRun {
  outcome: JobOutcome;
  scheduledAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
}

/** How a job that never got a slot ran: not at all. */
const NOT_STARTED: Readonly<JobRun> = Object.freeze({ outcome: 'cancelled-before-start', scheduledAt: null, startedAt: null, finishedAt: null });

/** The failure a fail-fast batch throws: built from the first failed result and every result. */
export interface FailFastFailure<R> {
  type: string;
  message: (first: R) => string;
  details: (first: R, results: R[]) => unknown;
}

/** How to schedule jobs. */
export interface ScheduleOptions<R extends TaskResult> {
  maxConcurrent?: number;
  progress?: ProgressTracker;
  budget: BudgetGate;
  /** Order in which jobs start waiting: each after its dependencies. Default: list order. */
  startOrder?: readonly number[];
  /** The caller's result of job i from its TaskResult and how it ran. */
  result: (i: number, r: TaskResult, run: JobRun) => R;
  /** On the first failed job, cancel the others and throw this failure; absent: keep going. */
  failFast?: FailFastFailure<R>;
}

/** Runs jobs with at most `maxConcurrent` in flight; returns their results in list order. */
export async function schedule<R extends TaskResult>(jobs: readonly Job<R>[], opts: ScheduleOptions<R>): Promise<R[]> {
  const slots = new RankedSlots(opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT);
  const { budget, progress } = opts;
  const settled: Promise<R>[] = new Array(jobs.length);
  const scope = new CancellationScope();
  let firstFailure: R | undefined;

  const order = opts.startOrder ?? jobs.map((_, i) => i);
  const max = opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
  // Jobs without dependencies whose ranks follow the start order (a fan-out): a job starts only when
  // a slot is free for it, so N jobs under a cap of k create the promises of about k jobs at a time
  // instead of N at once (each promise costs a stack trace in the SDK's promise hook: README
  // Performance). Every job still waiting has a lower rank than any not started, so the grants, and
  // the commands, are the same as starting them all.
  const lazy = order.every((i, n) => jobs[i].after.length === 0 && (n === 0 || jobs[order[n - 1]].rank <= jobs[i].rank));

  const finish = (i: number, r: TaskResult, run: JobRun): R => {
    const result = opts.result(i, r, run);
    progress?.finished(result);
    return result;
  };
  const skip = (i: number, r: TaskResult, run: JobRun): R => {
    progress?.skipped(r.taskId, r.error!);
    return opts.result(i, r, run);
  };

  // Each job is a chain of `then`s rather than async functions: under the SDK's promise hook every
  // promise costs a stack trace (README Performance), and an async function costs two per await.
  // Holding a slot: refused if the budget is spent, else marked running, asked for its call, run.
  const holding = (i: number, deps: R[], scheduledAt: number): R | Promise<R> => {
    const job = jobs[i];
    const startedAt = Date.now();
    let ran: Promise<TaskResult>;
    try {
      const refusal = budget.refusal();
      if (refusal) {
        const refused = skip(i, notRunForBudget(job, refusal), { ...NOT_STARTED, outcome: 'budget-refused', scheduledAt });
        slots.release();
        return refused;
      }
      progress?.running(job.taskId);
      const call = job.call(deps);
      if ('skip' in call) {
        const nothing = skip(i, skipped(job, call.skip), { ...NOT_STARTED, outcome: 'nothing-to-call', scheduledAt });
        slots.release();
        return nothing;
      }
      ran = budget.run(call.run);
    } catch (err) {
      slots.release();
      throw err;
    }
    return ran.then(
      (r) => {
        try {
          const result = finish(i, r, { outcome: 'ran', scheduledAt, startedAt, finishedAt: Date.now() });
          if (result.state === 'failed' && opts.failFast && !firstFailure) {
            firstFailure = result;
            scope.cancel();
          }
          return result;
        } finally {
          slots.release();
        }
      },
      (err: unknown) => {
        slots.release();
        throw err;
      },
    );
  };

  // Dependencies in: cancelled or failed fast meanwhile, skipped for a dependency, else wait for a slot.
  const ready = (i: number, deps: R[]): R | Promise<R> => {
    const job = jobs[i];
    if (scope.consideredCancelled || firstFailure) return finish(i, cancelledBeforeStart(job), NOT_STARTED);
    const blocked = job.tolerateFailedDeps ? undefined : dependencySkipReason(deps);
    if (blocked !== undefined) return skip(i, skipped(job, blocked), { ...NOT_STARTED, outcome: 'dependency-skipped' });
    const scheduledAt = Date.now();
    // A fan-out's jobs start in rank order, so a free slot with nobody waiting is theirs at once.
    if (lazy && slots.tryAcquire()) return holding(i, deps, scheduledAt);
    return slots.acquire(job.rank).then(
      () => holding(i, deps, scheduledAt),
      (err: unknown) => {
        if (!isCancellation(err)) throw err;
        return finish(i, cancelledBeforeStart(job), { ...NOT_STARTED, scheduledAt });
      },
    );
  };

  const runJob = (i: number): Promise<R> => {
    try {
      const job = jobs[i];
      // No promise for the dependencies of a job without any.
      const r = job.after.length ? Promise.all(job.after.map((d) => settled[d])).then((deps) => ready(i, deps)) : ready(i, []);
      return isPromise(r) ? r : Promise.resolve(r);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  const stopped = () => scope.consideredCancelled || firstFailure !== undefined;
  await scope
    .run(async () => {
      if (!lazy) {
        for (const i of order) settled[i] = runJob(i);
      } else {
        // Started only from here, after a condition: the SDK checks conditions once an activation's
        // completions have all run their continuations, so a job never starts before a sibling
        // that finished in the same activation has failed fast or charged the budget.
        let n = 0;
        try {
          for (; n < order.length && !stopped(); n++) {
            if (slots.held + slots.waitingCount >= max) await condition(() => slots.held + slots.waitingCount < max || stopped());
            if (stopped()) break;
            settled[order[n]] = runJob(order[n]);
          }
        } catch (err) {
          if (!isCancellation(err)) throw err;
        }
        // Cancelled or failed fast before these started: they end as the waiting ones do.
        for (; n < order.length; n++) settled[order[n]] ??= Promise.resolve(finish(order[n], cancelledBeforeStart(jobs[order[n]]), NOT_STARTED));
      }
      await Promise.all(settled);
    })
    .catch((err: unknown) => {
      // The scope's own cancellation (fail-fast) is expected; anything else is a bug to surface.
      if (!(firstFailure && isCancellation(err))) throw err;
    });

  const results = await Promise.all(jobs.map((job, i) => settled[i].catch(() => opts.result(i, cancelledBeforeStart(job), NOT_STARTED))));
  if (firstFailure && opts.failFast) {
    const f = opts.failFast;
    throw ApplicationFailure.create({ message: f.message(firstFailure), type: f.type, nonRetryable: true, details: [f.details(firstFailure, results)] });
  }
  return results;
}

/** A job's outcome is a promise while it waits or runs, a plain result when it ended at once. */
function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown }).then === 'function';
}
