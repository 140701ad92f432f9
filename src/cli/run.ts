/** Starting a run from the CLI or the demo: start, link, live progress, result table, exit code. */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { workflowUiLink, type Config } from '../config';
import { workflowId as makeWorkflowId } from '../client/ids';
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

/** Options common to commands that start a run. */
export interface StartOptions {
  json?: boolean;
  id?: string;
  wait?: boolean;
}

/** Starts a workflow, shows progress, prints the result; returns the exit code (0 ok, 1 failed, 3 some tasks failed). */
export async function startAndReport(
  ctx: { client: Client; config: Config },
  workflowType: string,
  input: unknown,
  idPrefix: string,
  opts: StartOptions,
  render: (r: RunResult & Record<string, unknown>) => string = (r) => `${resultsTable(r.results)}\n${statsLines(r.stats)}`,
  onResult?: (r: RunResult & Record<string, unknown>, workflowId: string) => void,
  memo?: Record<string, unknown>,
): Promise<number> {
  try {
    assertPayloadSize(input, 'the workflow input');
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UserError(err.message);
    throw err;
  }
  const workflowId = opts.id ?? makeWorkflowId(idPrefix);
  const handle = await ctx.client.workflow.start(workflowType, { taskQueue: ctx.config.temporal.taskQueue, workflowId, args: [input], memo });
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
    const result = await watch<RunResult & Record<string, unknown>>(handle, { quiet: opts.json });
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
