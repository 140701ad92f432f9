/**
 * The `fanOut` workflow: many independent LLM tasks in parallel, bounded, results in input order.
 * Runs larger than one workflow should hold — more than `shardSize` tasks (default 1,000), or more
 * estimated history bytes than SHARD_HISTORY_BYTES — shard themselves into child `fanOut`
 * workflows, so no history nears Temporal's event, size or pending-activity limits; payloads too
 * large for history are offloaded by the data converter (see src/data), transparently.
 */
import { ApplicationFailure, CancellationScope, ChildWorkflowFailure, ParentClosePolicy, executeChild, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import { ProgressTracker } from '../core/progress';
import { computeStats, shardTasks, validateFanOutInput, type FanOutInput, type FanOutParams, type ResolvedTask, type RunStats, type TaskResult } from '../core/tasks';
import { progressQuery } from '../protocol';
import { DEFAULT_MAX_CONCURRENT, runBounded } from './lib/bounded';
import { BudgetShares } from '../core/budget';
import { cancelledBeforeStart, failed, notRunForBudget } from '../core/results';
import { checkAgentTools } from './lib/agent-task';
import { validateOrFail } from './lib/validate';
import { RankedSlots } from './lib/ranked-slots';
import { installStream } from './lib/stream';

/** Result of a fan-out run. */
export interface FanOutResult {
  results: TaskResult[];
  stats: RunStats;
  /** True when the run was cancelled; finished results are kept. */
  cancelled: boolean;
  /** Child workflows the run was split into (empty when it ran in one workflow). */
  shards: string[];
}

/** Fans out LLM tasks with at most maxConcurrent in flight and collects every outcome. */
export async function fanOut(rawInput: FanOutParams): Promise<FanOutResult> {
  const started = Date.now();
  const { input, tasks } = validateOrFail(() => validateFanOutInput(rawInput));
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  if (input.stream) installStream();
  for (const t of tasks) progress.add(t.taskId, t.name);

  await checkAgentTools(tasks, input);
  const chunks = shardTasks(tasks, { shardSize: input.shardSize, defaultMaxTokens: input.maxTokens });
  if (chunks.length > 1) return runSharded(input, chunks, progress, started);

  const results = await runBounded(
    tasks.map((t) => ({ ...t, summary: t.name })),
    { ...input, progress },
  );
  progress.done = true;
  return { results, stats: computeStats(results, Date.now() - started), cancelled: CancellationScope.current().consideredCancelled, shards: [] };
}

/** What a child fanOut's TaskFailed failure carries (see runBounded). */
interface TaskFailedDetails {
  failedTask: string;
  results: TaskResult[];
}

/**
 * Splits a huge run into child fanOut workflows that share the concurrency budget. It behaves like
 * an unsharded run: a cancellation keeps every finished child's results and marks the tasks of
 * shards that never ran `cancelled before it started`; with failFast the first failed task cancels
 * the other shards and fails the run with that task's own error; a child that fails for any other
 * reason (terminated, timed out) fails only its own tasks, naming the child.
 */
async function runSharded(input: FanOutInput, chunks: ResolvedTask[][], progress: ProgressTracker, started: number): Promise<FanOutResult> {
  // Split the budget exactly (17 + 17 + 16 for 50 over 3), so the shards together never exceed it;
  // with more shards than the budget, only `budget` shards run at a time, one call each.
  const budget = input.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
  const parallelShards = Math.min(chunks.length, budget);
  const perShard = (i: number) => Math.floor(budget / parallelShards) + (i % parallelShards < budget % parallelShards ? 1 : 0);
  const shardSlots = new RankedSlots(parallelShards);
  const parentId = workflowInfo().workflowId;
  progress.phase = `${chunks.length} shards`;
  const shards = chunks.map((_, i) => `${parentId}/shard-${i + 1}`);
  const { tasks: _all, ...options } = input;
  const outcomes: (TaskResult[] | undefined)[] = new Array(chunks.length);
  const shares = new BudgetShares(
    input.budget,
    chunks.map((c) => c.length),
  );
  let firstFailure: { failure: ApplicationFailure; details: TaskFailedDetails } | undefined;
  const scope = new CancellationScope();

  const runShard = async (chunk: ResolvedTask[], i: number): Promise<void> => {
    try {
      await shardSlots.acquire(i);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      return; // never started: its tasks are marked below
    }
    // One budget for the whole run: each shard gets a share of what is left when it starts.
    const share = shares.take(i);
    try {
      if (share.refusal) {
        outcomes[i] = chunk.map((t) => notRunForBudget(t, share.refusal!));
        return;
      }
      chunk.forEach((t) => progress.running(t.taskId));
      const r = await executeChild(fanOut, {
        workflowId: shards[i],
        args: [
          {
            ...options,
            // A streaming run's shards publish to the run's own channel (where its subscribers read).
            ...(options.stream ? { streamTo: options.streamTo ?? workflowInfo().workflowId } : {}),
            ...(share.budget ? { budget: share.budget } : {}),
            maxConcurrent: perShard(i),
            tasks: chunk.map(({ taskId, ...t }) => ({ ...t, id: taskId })),
          },
        ],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      outcomes[i] = r.results;
    } catch (err) {
      const failed = taskFailure(err);
      if (failed) {
        // failFast in the child: keep its results, stop the other shards, fail with the task's own error.
        outcomes[i] = failed.details.results;
        if (!firstFailure) {
          firstFailure = failed;
          scope.cancel();
        }
      } else if (!isCancellation(err)) {
        outcomes[i] = chunk.map((t) => shardFailed(t, shards[i], err));
      }
      // A child cancelled before it ran anything has no results: its tasks are marked below.
    } finally {
      shardSlots.release();
      shares.settle(i, outcomes[i] ?? []);
      outcomes[i]?.forEach((x) => progress.finished(x));
    }
  };

  await scope
    .run(() => Promise.all(chunks.map((c, i) => runShard(c, i))))
    .catch((err: unknown) => {
      // The scope's own cancellation (fail-fast, or the run's) is expected; anything else is a bug to surface.
      if (!isCancellation(err)) throw err;
    });
  const results = chunks.flatMap((chunk, i) => {
    const got = outcomes[i];
    if (got) return got;
    const notRun = chunk.map((t) => cancelledBeforeStart(t));
    notRun.forEach((x) => progress.finished(x));
    return notRun;
  });
  progress.done = true;
  if (firstFailure) {
    const { failure, details } = firstFailure;
    throw ApplicationFailure.create({ message: failure.message, type: 'TaskFailed', nonRetryable: true, details: [{ failedTask: details.failedTask, results }] });
  }
  return { results, stats: computeStats(results, Date.now() - started), cancelled: CancellationScope.current().consideredCancelled, shards };
}

/** The child's own TaskFailed failure (failFast), when that is what ended it. */
function taskFailure(err: unknown): { failure: ApplicationFailure; details: TaskFailedDetails } | undefined {
  if (!(err instanceof ChildWorkflowFailure) || !(err.cause instanceof ApplicationFailure) || err.cause.type !== 'TaskFailed') return undefined;
  const details = err.cause.details?.[0] as TaskFailedDetails | undefined;
  if (!details || !Array.isArray(details.results)) return undefined;
  return { failure: err.cause, details };
}

/** A task of a shard whose child workflow failed for a reason other than its tasks. */
function shardFailed(task: ResolvedTask, childId: string, err: unknown): TaskResult {
  const cause = err instanceof ChildWorkflowFailure && err.cause ? err.cause : err;
  const message = cause instanceof Error ? cause.message : String(cause);
  return failed(task, { error: `shard ${childId} failed: ${message}`, errorType: 'ShardFailed', durationMs: 0, attempts: 0 });
}
