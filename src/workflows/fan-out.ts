/**
 * The `fanOut` workflow: many independent LLM tasks in parallel, bounded, results in input order.
 * Runs larger than one workflow should hold (FANOUT_SHARD_SIZE tasks) shard themselves into child
 * `fanOut` workflows, so no history nears Temporal's event or pending-activity limits; payloads too
 * large for history are offloaded by the data converter (see src/data), transparently.
 */
import { CancellationScope, ParentClosePolicy, executeChild, setHandler, workflowInfo } from '@temporalio/workflow';
import { ProgressTracker } from '../core/progress';
import { computeStats, validateFanOutInput, type FanOutInput, type ResolvedTask, type RunStats, type TaskResult } from '../core/tasks';
import { progressQuery } from './defs';
import { DEFAULT_MAX_CONCURRENT, runBounded } from './lib/bounded';
import { validateOrFail } from './lib/validate';
import { Window } from './lib/window';

/** Tasks per workflow; bigger runs are split into child workflows of at most this many. */
export const FANOUT_SHARD_SIZE = 1000;

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
export async function fanOut(rawInput: unknown): Promise<FanOutResult> {
  const started = Date.now();
  const { input, tasks } = validateOrFail(() => validateFanOutInput(rawInput));
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  for (const t of tasks) progress.add(t.taskId, t.name);

  if (tasks.length > FANOUT_SHARD_SIZE) return runSharded(input, tasks, progress, started);

  const results = await runBounded(
    tasks.map((t) => ({ ...t, summary: t.name })),
    { ...input, progress },
  );
  progress.done = true;
  return { results, stats: computeStats(results, Date.now() - started), cancelled: CancellationScope.current().consideredCancelled, shards: [] };
}

/** Splits a huge run into child fanOut workflows that share the concurrency budget. */
async function runSharded(input: FanOutInput, tasks: ResolvedTask[], progress: ProgressTracker, started: number): Promise<FanOutResult> {
  const chunks: ResolvedTask[][] = [];
  for (let i = 0; i < tasks.length; i += FANOUT_SHARD_SIZE) chunks.push(tasks.slice(i, i + FANOUT_SHARD_SIZE));
  // Split the budget exactly (17 + 17 + 16 for 50 over 3), so the shards together never exceed it;
  // with more shards than the budget, only `budget` shards run at a time, one call each.
  const budget = input.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
  const parallelShards = Math.min(chunks.length, budget);
  const perShard = (i: number) => Math.floor(budget / parallelShards) + (i % parallelShards < budget % parallelShards ? 1 : 0);
  const shardWindow = new Window(parallelShards);
  const parentId = workflowInfo().workflowId;
  progress.phase = `${chunks.length} shards`;
  const shards = chunks.map((_, i) => `${parentId}/shard-${i + 1}`);
  const { tasks: _all, ...options } = input;
  const outcomes = await Promise.all(
    chunks.map(async (chunk, i) => {
      await shardWindow.acquire(i);
      chunk.forEach((t) => progress.running(t.taskId));
      const r = await executeChild(fanOut, {
        workflowId: shards[i],
        args: [{ ...options, maxConcurrent: perShard(i), tasks: chunk.map(({ taskId, ...t }) => ({ ...t, id: taskId })) }],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      shardWindow.release();
      r.results.forEach((x) => progress.finished(x));
      return r;
    }),
  );
  progress.done = true;
  const results = outcomes.flatMap((o) => o.results);
  return { results, stats: computeStats(results, Date.now() - started), cancelled: CancellationScope.current().consideredCancelled, shards };
}
