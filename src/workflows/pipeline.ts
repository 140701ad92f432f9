/** The `pipeline` workflow: stages in order, tasks within a stage in parallel, outputs flowing forward. */
import { CancellationScope, setHandler } from '@temporalio/workflow';
import { fillPlaceholders, placeholdersIn } from '../core/dag';
import { PREVIOUS, validatePipeline, type PipelineParams } from '../core/pipeline';
import { ProgressTracker } from '../core/progress';
import { skipped } from '../core/results';
import { computeStats, type RunStats, type TaskResult } from '../core/tasks';
import { progressQuery } from '../protocol';
import { runBounded, type BoundedTask } from './lib/bounded';
import { BudgetGate } from './lib/budget-gate';
import { checkAgentTools } from './lib/agent-task';
import { installStream } from './lib/stream';
import { validateOrFail } from './lib/validate';

/** One stage's outcome. */
export interface StageResult {
  name: string;
  results: TaskResult[];
  stats: RunStats;
}

/** Result of a pipeline run. */
export interface PipelineResult {
  name?: string;
  stages: StageResult[];
  /** Every task of every stage, in order, with `group` = stage name. */
  results: TaskResult[];
  stats: RunStats;
  /** The stage after which the run stopped because of failures (stopOnStageFailure). */
  stoppedAfter: string | null;
  cancelled: boolean;
}

/** A stage's task that does not run, with the reason users see. */
function skippedInStage(t: { id: string; name?: string }, group: string, reason: string): TaskResult {
  return { ...skipped({ taskId: t.id, name: t.name ?? t.id }, reason), group };
}

/** Runs stages in order; each stage's tasks run in parallel within the concurrency cap. */
export async function pipeline(rawSpec: PipelineParams): Promise<PipelineResult> {
  const started = Date.now();
  const spec = validateOrFail(() => validatePipeline(rawSpec));
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  if (spec.stream) installStream();
  for (const s of spec.stages) for (const t of s.tasks) progress.add(t.id, t.name ?? t.id, s.name);

  await checkAgentTools(
    spec.stages.flatMap((s) => s.tasks),
    spec,
  );
  const stages: StageResult[] = [];
  let previous: TaskResult[] = [];
  let stoppedAfter: string | null = null;
  // One budget for the whole run: every stage spends from it.
  const budgetGate = new BudgetGate(spec.budget);
  for (const stage of spec.stages) {
    const stageStart = Date.now();
    if (stoppedAfter) {
      const results = stage.tasks.map((t) => skippedInStage(t, stage.name, `skipped: the pipeline stopped after stage "${stoppedAfter}" had failures`));
      results.forEach((r) => progress.skipped(r.taskId, r.error!));
      stages.push({ name: stage.name, results, stats: computeStats(results, 0) });
      continue;
    }
    progress.phase = stage.name;
    const outputs = Object.fromEntries(previous.map((r) => [r.taskId, r.output ?? '']));
    outputs[PREVIOUS] = previous
      .filter((r) => r.success)
      .map((r) => `### ${r.name}\n${r.output}`)
      .join('\n\n');
    const runnable: (BoundedTask & { index: number })[] = [];
    const results: (TaskResult | undefined)[] = new Array(stage.tasks.length);
    stage.tasks.forEach((t, index) => {
      const used = [...placeholdersIn(t.prompt), ...placeholdersIn(t.system ?? '')].filter((p) => p !== PREVIOUS);
      const missing = used.find((p) => !previous.find((r) => r.taskId === p)?.success);
      if (missing) {
        results[index] = skippedInStage(t, stage.name, `skipped: input "${missing}" from stage "${stages[stages.length - 1].name}" did not succeed`);
        progress.skipped(t.id, results[index]!.error!);
        return;
      }
      runnable.push({
        index,
        taskId: t.id,
        name: t.name ?? t.id,
        prompt: fillPlaceholders(t.prompt, outputs),
        system: t.system === undefined ? undefined : fillPlaceholders(t.system, outputs),
        model: t.model,
        maxTokens: t.maxTokens,
        summary: `${stage.name}: ${t.name ?? t.id}`,
        ...(t.agent ? { agent: t.agent } : {}),
      });
    });
    const ran = await runBounded(runnable, { ...spec, progress, budgetGate });
    ran.forEach((r, i) => (results[runnable[i].index] = { ...r, group: stage.name }));
    const final = results.map((r) => r!);
    stages.push({ name: stage.name, results: final, stats: computeStats(final, Date.now() - stageStart) });
    if (spec.stopOnStageFailure && final.some((r) => r.state === 'failed')) stoppedAfter = stage.name;
    previous = final;
  }
  progress.done = true;
  const all = stages.flatMap((s) => s.results);
  return { name: spec.name, stages, results: all, stats: computeStats(all, Date.now() - started), stoppedAfter, cancelled: CancellationScope.current().consideredCancelled };
}
