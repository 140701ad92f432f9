/** The `decomposeAndSynthesize` workflow: one call splits the task, subtasks run in parallel, one call combines them. */
import { CancellationScope, setHandler } from '@temporalio/workflow';
import {
  DECOMPOSE_SYSTEM,
  SYNTHESIZE_SYSTEM,
  correctivePrompt,
  decompositionOutput,
  decomposeInputSchema,
  decomposePrompt,
  parseDecomposition,
  synthesisPrompt,
  type Subtask,
  type DecomposeParams,
} from '../core/decompose';
import { ProgressTracker } from '../core/progress';
import { computeStats, parseOrThrow, type RunStats, type TaskResult } from '../core/tasks';
import { progressQuery } from '../protocol';
import { runBounded } from './lib/bounded';
import { notRunForBudget } from '../core/results';
import { BudgetGate } from './lib/budget-gate';
import { runLlmTask } from './lib/llm-task';
import { installStream } from './lib/stream';
import { validateOrFail } from './lib/validate';

/** How the task was split. */
export interface Decomposition {
  /** `llm`: first reply parsed; `corrected`: parsed after one corrective retry; `fallback`: the whole task ran as one subtask. */
  method: 'llm' | 'corrected' | 'fallback';
  /** Why the fallback or correction happened. */
  problems: string[];
}

/** Result of decomposeAndSynthesize. */
export interface DecomposeResult {
  task: string;
  decomposition: Decomposition;
  subtasks: Subtask[];
  /** Every call: decomposition (and correction), subtasks, synthesis, with `group` saying which. */
  results: TaskResult[];
  /** The synthesis call's result (its output is the answer). */
  synthesis: TaskResult;
  stats: RunStats;
  cancelled: boolean;
}

/** Splits a task with the LLM, runs the subtasks in parallel, and synthesises their results. */
export async function decomposeAndSynthesize(rawInput: DecomposeParams): Promise<DecomposeResult> {
  const started = Date.now();
  const input = validateOrFail(() => parseOrThrow(decomposeInputSchema, rawInput, 'decompose input'));
  const n = input.subtasks ?? 4;
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  if (input.stream) installStream();
  const calls: TaskResult[] = [];
  // One budget for the whole run: decomposition, subtasks and synthesis spend from it.
  const budgetGate = new BudgetGate(input.budget);
  const step = async (taskId: string, name: string, group: string, prompt: string, system: string, output?: ReturnType<typeof decompositionOutput>): Promise<TaskResult> => {
    progress.add(taskId, name, group);
    const refusal = budgetGate.refusal();
    if (refusal) {
      const skipped = { ...notRunForBudget({ taskId, name }, refusal), group };
      progress.skipped(taskId, refusal);
      calls.push(skipped);
      return skipped;
    }
    progress.running(taskId);
    const r = { ...(await budgetGate.run(() => runLlmTask({ taskId, name, prompt, system, summary: name, ...(output ? { output } : {}) }, input))), group };
    progress.finished(r);
    calls.push(r);
    return r;
  };

  progress.phase = 'decompose';
  const problems: string[] = [];
  let subtasks: Subtask[] | undefined;
  let method: Decomposition['method'] = 'llm';
  const first = await step('decompose', 'decompose', 'decompose', decomposePrompt(input.task, n), DECOMPOSE_SYSTEM, decompositionOutput(n));
  if (first.success) {
    const parsed = parseDecomposition(first.output ?? '');
    if (parsed.ok) subtasks = parsed.subtasks;
    else {
      problems.push(`first reply: ${parsed.problem}`);
      const retry = await step(
        'decompose-retry',
        'decompose (corrective retry)',
        'decompose',
        correctivePrompt(input.task, n, first.output ?? '', parsed.problem),
        DECOMPOSE_SYSTEM,
        decompositionOutput(n),
      );
      const again = retry.success ? parseDecomposition(retry.output ?? '') : ({ ok: false, problem: `call failed: ${retry.error}` } as const);
      if (again.ok) {
        subtasks = again.subtasks;
        method = 'corrected';
      } else problems.push(`corrective retry: ${again.problem}`);
    }
  } else problems.push(`decomposition call failed: ${first.error}`);
  if (!subtasks) {
    method = 'fallback';
    subtasks = [{ name: 'whole task', prompt: input.task }];
  }

  progress.phase = 'subtasks';
  const tasks = subtasks.map((s, i) => ({ taskId: `subtask-${i + 1}`, name: s.name, prompt: s.prompt, summary: `subtask: ${s.name}` }));
  for (const t of tasks) progress.add(t.taskId, t.name, 'subtask');
  const results = (await runBounded(tasks, { ...input, progress, budgetGate })).map((r) => ({ ...r, group: 'subtask' }));
  calls.push(...results);

  progress.phase = 'synthesize';
  const synthesis = await step('synthesize', 'synthesize', 'synthesize', synthesisPrompt(input.task, subtasks, results), SYNTHESIZE_SYSTEM);
  progress.done = true;
  return {
    task: input.task,
    decomposition: { method, problems },
    subtasks,
    results: calls,
    synthesis,
    stats: computeStats(calls, Date.now() - started),
    cancelled: CancellationScope.current().consideredCancelled,
  };
}
