/**
 * Run timelines: fetch a run's history (and its child workflows'), build the model, write
 * `<runsDir>/<workflowId>/timeline.html`. The pure parts live in ./model and ./render.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { WorkflowNotFoundError, isGrpcServiceError, type Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow';
import { buildTimeline, childWorkflowsOf, type ChildHistory, type HistoryEvent, type TimelineModel } from './model';
import { renderTimelineHtml } from './render';

export * from './model';
export { renderTimelineHtml, escapeHtml, fmtSeconds } from './render';

/** How deep to follow child workflows (fanOut shards are one level). */
const MAX_CHILD_DEPTH = 3;

/** Summaries decoded with the client's data converter (so encrypted summaries read too), by scheduled event id. */
async function decodeSummaries(client: Client, events: HistoryEvent[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of events) {
    const p = e.activityTaskScheduledEventAttributes ? (e.userMetadata?.summary as Payload | undefined) : undefined;
    if (!p) continue;
    try {
      const v = await decodeOptionalSinglePayload<unknown>(client.options.loadedDataConverter, p);
      if (typeof v === 'string') out.set(String(e.eventId), v);
    } catch {
      // Not decodable with these keys: the bar is labelled with the activity type instead.
    }
  }
  return out;
}

async function fetchEvents(client: Client, workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  try {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    return history.events ?? [];
  } catch (err) {
    // fetchHistory passes the gRPC error through; callers (the CLI) know WorkflowNotFoundError.
    if (isGrpcServiceError(err) && err.code === 5) throw new WorkflowNotFoundError(err.details || err.message, workflowId, runId);
    throw err;
  }
}

/** Fetches a run's history and its child workflows' (recursively) and builds the timeline model. */
export async function loadTimeline(client: Client, workflowId: string, runId?: string): Promise<TimelineModel> {
  const events = await fetchEvents(client, workflowId, runId);
  const children: ChildHistory[] = [];
  const queue = childWorkflowsOf(events).map((c) => ({ ...c, depth: 1 }));
  while (queue.length) {
    const c = queue.shift()!;
    let childEvents: HistoryEvent[];
    try {
      childEvents = await fetchEvents(client, c.workflowId, c.runId);
    } catch {
      continue; // never started, or already deleted by retention: nothing to draw
    }
    children.push({ workflowId: c.workflowId, events: childEvents, summaries: await decodeSummaries(client, childEvents) });
    if (c.depth < MAX_CHILD_DEPTH) queue.push(...childWorkflowsOf(childEvents).map((g) => ({ ...g, depth: c.depth + 1 })));
  }
  return buildTimeline(events, { summaries: await decodeSummaries(client, events), children });
}

/** Where a run's timeline goes by default: `<runsDir>/<workflowId>/timeline.html` (same directory as report.md). */
export function timelinePath(runsDir: string, workflowId: string): string {
  return path.resolve(runsDir, workflowId.replace(/[^A-Za-z0-9_.-]+/g, '_'), 'timeline.html');
}

/** Builds and writes a run's timeline page; returns the absolute path written. */
export async function writeTimeline(client: Client, o: { workflowId: string; runId?: string; runsDir: string; out?: string }): Promise<string> {
  const model = await loadTimeline(client, o.workflowId, o.runId);
  const target = path.resolve(o.out ?? timelinePath(o.runsDir, o.workflowId));
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.writeFile(target, renderTimelineHtml(model), 'utf8');
  return target;
}
