/** The `fanOut` workflow: many independent LLM tasks in parallel, bounded, in input order. */
import { CancellationScope, setHandler } from '@temporalio/workflow';
import { ProgressTracker } from '../core/progress';
import { computeStats, validateFanOutInput, type RunStats, type TaskResult } from '../core/tasks';
import { progressQuery } from './defs';
import { runBounded } from './lib/bounded';
import { validateOrFail } from './lib/validate';

/** Result of a fan-out run. */
export interface FanOutResult {
  results: TaskResult[];
  stats: RunStats;
  /** True when the run was cancelled; finished results are kept. */
  cancelled: boolean;
}

/** Fans out LLM tasks with at most maxConcurrent in flight and collects every outcome. */
export async function fanOut(rawInput: unknown): Promise<FanOutResult> {
  const started = Date.now();
  const { input, tasks } = validateOrFail(() => validateFanOutInput(rawInput));
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  for (const t of tasks) progress.add(t.taskId, t.name);

  const results = await runBounded(
    tasks.map((t) => ({ ...t, summary: t.name })),
    { ...input, progress },
  );
  progress.done = true;
  return { results, stats: computeStats(results, Date.now() - started), cancelled: CancellationScope.current().consideredCancelled };
}
