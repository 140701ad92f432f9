/** Starting a run from the CLI or the demo: start, link, live progress, result table, exit code. */
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { workflowUiLink, type Config } from '../config';
import { workflowId as makeWorkflowId, workflowTypeOf } from '../client/ids';
import { splitQueues, startRun } from '../client';
import { subscribeStream } from '../client/stream';
import { StreamText } from '../core/stream';
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
  /** Print each call's text as it arrives (the run's input has `stream: true`). */
  stream?: boolean;
}

/** How often streamed text is printed (what arrived meanwhile, one line per call). */
const STREAM_PRINT_MS = 300;

/**
 * Prints a streamed run's text as it arrives: `[callId] ` prefixed lines, one per call and tick
 * (a retry prints `↻` and the text starts again; a finished call prints `✓`). Never throws.
 */
export async function printStream(handle: WorkflowHandle, out: NodeJS.WritableStream = process.stdout, intervalMs = STREAM_PRINT_MS): Promise<void> {
  const texts = new StreamText();
  const pending = new Map<string, string>();
  const order: string[] = [];
  const flush = () => {
    for (const id of order) {
      const text = pending.get(id);
      if (!text) continue;
      pending.set(id, '');
      for (const line of text.split('\n')) if (line.trim()) out.write(`[${id}] ${line}\n`);
    }
  };
  const tick = setInterval(flush, intervalMs);
  try {
    for await (const e of subscribeStream(handle, { intervalMs: Math.min(intervalMs, 250) })) {
      const before = texts.calls.get(e.callId)?.attempt;
      const c = texts.apply(e);
      if (!c) continue;
      if (!pending.has(c.callId)) order.push(c.callId);
      if (before !== undefined && c.attempt !== before) {
        pending.set(c.callId, '');
        out.write(`[${c.callId}] ↻ attempt ${c.attempt}: the text starts again\n`);
      }
      if ('text' in e) pending.set(c.callId, (pending.get(c.callId) ?? '') + e.text);
      if ('done' in e && e.done) {
        flush();
        out.write(`[${c.callId}] ✓ (${c.text.length} chars)\n`);
      }
    }
  } catch (err) {
    console.error(`warning: the text stream stopped: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearInterval(tick);
    flush();
  }
}

/** Starts a workflow, shows progress, prints the result; returns the exit code (0 ok, 1 failed, 3 some tasks failed). */
export async function startAndReport<W extends RunWorkflow>(
  ctx: { client: Client; config: Config },
  /** The workflow, or its type name (the CLI's: it then loads no workflow code). */
  workflow: W | string,
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
  const workflowType = workflowTypeOf(workflow);
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
  // With --stream the text is the live view (progress lines would interleave with it); the table follows.
  const streaming = opts.stream && !opts.json ? printStream(handle) : undefined;
  try {
    const result = (await watch(handle, { quiet: opts.json || opts.stream })) as Awaited<ReturnType<W>>;
    await streaming;
    onResult?.(result, workflowId);
    if (opts.json) {
      const timelinePath = await timelineBesideReport(ctx, workflowId);
      console.log(JSON.stringify({ workflowId, ...result, ...(timelinePath ? { timelinePath } : {}) }, null, 2));
    } else {
      // The result first: fetching the history and writing the timeline takes a moment more.
      console.log(`\n${render(result)}`);
      const timelinePath = await timelineBesideReport(ctx, workflowId);
      console.log(`${timelinePath ? `timeline: ${timelinePath}\n` : ''}Web UI: ${link}`);
    }
    return result.stats.failed > 0 ? 3 : 0;
  } catch (err) {
    await streaming;
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
