/** Starting a run from the CLI or the demo: start, link, live progress, result table, exit code. */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { workflowUiLink, type Config } from '../config';
import { workflowId as makeWorkflowId } from '../client/ids';
import { splitQueues, startRun } from '../client';
import { InvalidInputError, assertPayloadSize, type RunStats, type TaskResult } from '../core/tasks';
import { UserError } from './inputs';
import { resultsTable, statsLines } from './render';
import { watch } from './watch';
import { writeTimeline } from '../timeline';

/** A run's result, as every workflow of this project returns it (at least). */
export interface RunResult {
  results: TaskResult[];
  stats: RunStats;
  cancelled?: boolean;
}

/** Any of the package's run workflows, typed by its input and result. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Temporal's Workflow type takes any arguments
export type RunWorkflow<R extends RunResult = RunResult> = (input: any) => Promise<R>;

/** Options common to commands that start a run. */
export interface StartOptions {
  json?: boolean;
  id?: string;
  wait?: boolean;
}

/** Starts a workflow, shows progress, prints the result; returns the exit code (0 ok, 1 failed, 3 some tasks failed). */
export async function startAndReport<W extends RunWorkflow>(
  ctx: { client: Client; config: Config },
  workflow: W,
  input: Parameters<W>[0],
  idPrefix: string,
  opts: StartOptions,
  render: (r: Awaited<ReturnType<W>>) => string = (r) => `${resultsTable(r.results)}\n${statsLines(r.stats)}`,
  onResult?: (r: Awaited<ReturnType<W>>, workflowId: string) => void,
  memo?: Record<string, unknown>,
): Promise<number> {
  try {
    assertPayloadSize(input, 'the workflow input');
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UserError(err.message);
    throw err;
  }
  const workflowType = workflow.name;
  // `npm run worker` runs LLM and tool activities on queues of their own.
  const handle = await startRun(ctx.client, workflow, input, {
    taskQueue: ctx.config.temporal.taskQueue,
    workflowId: opts.id ?? makeWorkflowId(idPrefix),
    memo,
    routing: splitQueues(ctx.config.temporal.taskQueue),
  });
  const workflowId = handle.workflowId;
  const link = workflowUiLink(ctx.config, workflowId);
  if (!opts.json) {
    console.log(`started ${workflowType} ${workflowId}`);
    console.log(`Web UI: ${link}`);
  }
  if (opts.wait === false) {
    if (opts.json) console.log(JSON.stringify({ workflowId, runId: handle.firstExecutionRunId, webUi: link }));
    return 0;
  }
  try {
    const result = (await watch(handle, { quiet: opts.json })) as Awaited<ReturnType<W>>;
    onResult?.(result, workflowId);
    const timelinePath = await timelineBesideReport(ctx, workflowId);
    if (opts.json) console.log(JSON.stringify({ workflowId, ...result, ...(timelinePath ? { timelinePath } : {}) }, null, 2));
    else console.log(`\n${render(result)}${timelinePath ? `\ntimeline: ${timelinePath}` : ''}\nWeb UI: ${link}`);
    return result.stats.failed > 0 ? 3 : 0;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const message = err.cause?.message ?? err.message;
      const timelinePath = await timelineBesideReport(ctx, workflowId);
      if (opts.json) console.log(JSON.stringify({ workflowId, error: message, ...(timelinePath ? { timelinePath } : {}) }, null, 2));
      else console.error(`run ${workflowId} failed: ${message}${timelinePath ? `\ntimeline: ${timelinePath}` : ''}\nWeb UI: ${link}`);
      return 1;
    }
    throw err;
  }
}

/** Writes `<runsDir>/<workflowId>/timeline.html` after a run; a failure to write only warns (the run's outcome stands). */
async function timelineBesideReport(ctx: { client: Client; config: Config }, workflowId: string): Promise<string | undefined> {
  try {
    return await writeTimeline(ctx.client, { workflowId, runsDir: ctx.config.runsDir });
  } catch (err) {
    console.error(`warning: could not write the timeline of ${workflowId}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}
