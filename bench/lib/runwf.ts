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

/** Starts a workflow and waits for its result (or error, or the timeout, after which it is terminated). */
export async function runWorkflow<T>(client: Client, type: string, input: unknown, o: { taskQueue: string; idPrefix: string; timeoutMs?: number }): Promise<WorkflowRun<T>> {
  const workflowId = `${o.idPrefix}-${randomUUID().slice(0, 8)}`;
  const t0 = performance.now();
  try {
    const handle = await client.workflow.start(type, { taskQueue: o.taskQueue, workflowId, args: [{ ...splitQueues(o.taskQueue), ...(input as object) }] });
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
