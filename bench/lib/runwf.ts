/** Running one workflow from the bench and reading back what Temporal recorded. */
import { randomUUID } from 'node:crypto';
import { splitQueues } from '../../src/client';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export interface WorkflowRun<T> {
  workflowId: string;
  /** Client-observed wall clock: from the start request to the result. */
  wallMs: number;
  result?: T;
  error?: string;
}

/**
 * How a run's activities are routed: 'split' = `splitQueues(q)` (LLM calls on `q-llm`, tools on
 * `q-tools`, as the CLI starts runs); 'single' = no routing, every call on the workflow's own queue,
 * served by the same worker process, where eager activity dispatch applies (AgentsPlugin's layout);
 * 'local' = no routing and `llmDispatch: 'local'`: LLM calls as local activities of the workflow's worker.
 */
export type Layout = 'split' | 'single' | 'local';

/** Starts a workflow and waits for its result (or error, or the timeout, after which it is terminated). */
export async function runWorkflow<T>(
  client: Client,
  type: string,
  input: unknown,
  o: { taskQueue: string; idPrefix: string; timeoutMs?: number; layout?: Layout },
): Promise<WorkflowRun<T>> {
  const workflowId = `${o.idPrefix}-${randomUUID().slice(0, 8)}`;
  const t0 = performance.now();
  try {
    const layout = o.layout ?? 'split';
    const routing = layout === 'split' ? splitQueues(o.taskQueue) : layout === 'local' ? { llmDispatch: 'local' } : {};
    const handle = await client.workflow.start(type, { taskQueue: o.taskQueue, workflowId, args: [{ ...routing, ...(input as object) }] });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result within ${Math.round((o.timeoutMs ?? 600_000) / 1000)} s`)), o.timeoutMs ?? 600_000);
    });
    try {
      const result = (await Promise.race([handle.result(), timeout])) as T;
      return { workflowId, wallMs: performance.now() - t0, result };
    } catch (err) {
      const wallMs = performance.now() - t0;
      await handle.terminate('bench: no result in time').catch(() => undefined);
      return { workflowId, wallMs, error: describeError(err) };
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    return { workflowId, wallMs: performance.now() - t0, error: describeError(err) };
  }
}

/** The message of an error and of its causes (WorkflowFailedError wraps the real reason). */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e && i < 4; i++) {
    if (e instanceof Error) {
      parts.push(e.message);
      e = (e as { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return [...new Set(parts)].join(': ').replace(/\s+/g, ' ').slice(0, 400);
}

/** Every execution whose id starts with `rootId` (the run and any child workflows), with its history length from describe. */
export async function histories(client: Client, rootId: string): Promise<{ workflowId: string; type: string; status: string; historyLength: number; historySize?: number }[]> {
  const ids = new Set<string>([rootId]);
  try {
    for await (const w of client.workflow.list({ query: `WorkflowId STARTS_WITH "${rootId}"` })) {
      ids.add(w.workflowId);
      if (ids.size >= 500) break;
    }
  } catch {
    // Visibility without STARTS_WITH: the root run alone.
  }
  const out: { workflowId: string; type: string; status: string; historyLength: number; historySize?: number }[] = [];
  for (const id of ids) {
    try {
      // describe reads the execution itself, so lengths are final even if visibility lags.
      const d = await client.workflow.getHandle(id).describe();
      out.push({ workflowId: id, type: d.type, status: d.status.name, historyLength: d.historyLength, historySize: d.historySize });
    } catch {
      // not found
    }
  }
  return out;
}

/**
 * Workflow tasks that failed or timed out in a run's history. FORCE_CLOSE_COMMAND failures are the
 * server failing an in-flight workflow task because too many events were buffered meanwhile
 * (history.maximumBufferedEventsBatch, default 100): the worker then has to replay the history.
 */
export async function workflowTaskFailures(client: Client, workflowId: string): Promise<{ failed: number; timedOut: number; causes: Record<string, number> } | undefined> {
  try {
    const h = await client.workflow.getHandle(workflowId).fetchHistory();
    let failed = 0;
    let timedOut = 0;
    const causes: Record<string, number> = {};
    for (const e of h.events ?? []) {
      if (e.workflowTaskFailedEventAttributes) {
        failed++;
        const cause = (temporal.api.enums.v1.WorkflowTaskFailedCause[e.workflowTaskFailedEventAttributes.cause ?? 0] ?? 'UNKNOWN').replace('WORKFLOW_TASK_FAILED_CAUSE_', '');
        causes[cause] = (causes[cause] ?? 0) + 1;
      }
      if (e.workflowTaskTimedOutEventAttributes) timedOut++;
    }
    return { failed, timedOut, causes };
  } catch {
    return undefined;
  }
}

/** An activity started within this long of being scheduled counts as dispatched eagerly (polled ones: ≤ 2 % of split-layout activities in the bench runs, when a poller was already waiting). */
export const EAGER_GAP_MS = 5;

/**
 * How a run's activities reached the worker, from its history: per activity, the time from its
 * ActivityTaskScheduled event to its ActivityTaskStarted event, and how many were started within
 * EAGER_GAP_MS (eager activity dispatch: the server starts them while it handles the workflow task
 * completion that scheduled them, and they reach the worker in its reply, with no matching and no
 * poll; the server's PollActivityTaskQueue count per task, in case overhead's table 2b, confirms it).
 */
export async function activityDispatch(client: Client, workflowId: string): Promise<{ activities: number; eager: number; medianGapMs: number; maxGapMs: number } | undefined> {
  try {
    const h = await client.workflow.getHandle(workflowId).fetchHistory();
    const scheduledAt = new Map<string, number>();
    const gaps: number[] = [];
    let eager = 0;
    const t = (e: temporal.api.history.v1.IHistoryEvent) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
    for (const e of h.events ?? []) {
      if (e.activityTaskScheduledEventAttributes) scheduledAt.set(String(e.eventId), t(e));
      const st = e.activityTaskStartedEventAttributes;
      if (st) {
        const s0 = scheduledAt.get(String(st.scheduledEventId));
        if (s0 === undefined) continue;
        const gap = t(e) - s0;
        gaps.push(gap);
        if (gap <= EAGER_GAP_MS) eager++;
      }
    }
    gaps.sort((a, b) => a - b);
    return { activities: gaps.length, eager, medianGapMs: gaps.length ? gaps[Math.floor(gaps.length / 2)] : NaN, maxGapMs: gaps.length ? gaps[gaps.length - 1] : NaN };
  } catch {
    return undefined;
  }
}
