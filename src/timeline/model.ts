/**
 * The run timeline's model, built from a workflow's event history alone (pure: no I/O, no clock).
 *
 * One bar per activity: scheduled → started → closed, relative to the (root) workflow's start.
 *
 * Why one bar per activity and not one per attempt: Temporal writes an activity's retries into
 * history lazily. While an activity is retrying, nothing but ActivityTaskScheduled is recorded;
 * when it finally closes, the server writes ONE ActivityTaskStarted for the LAST attempt (with
 * that attempt's number and the previous attempt's failure) followed by the close event. Earlier
 * attempts, their start times and their backoffs leave no event. So a bar with its attempt count
 * and last failure is the faithful picture; the segment between scheduled and the last attempt's
 * start then covers earlier attempts + backoff + queue wait, and is drawn as such.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

/** One event of a history, as `handle.fetchHistory()` or `historyFromJSON()` return them. */
export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** How an activity ended (or where it is). */
export type BarOutcome = 'completed' | 'failed' | 'timedOut' | 'canceled' | 'running' | 'scheduled';

/** One activity. Times are milliseconds since the root workflow's start. */
export interface TimelineBar {
  /** The workflow whose history holds this activity (the root, or a child such as `<id>/shard-1`). */
  workflowId: string;
  activityId: string;
  activityType: string;
  /** The activity's summary (the one-liner the Web UI shows), when it has one. */
  summary?: string;
  /** What the bar is called: the summary, else `<activityType> #<activityId>`. */
  label: string;
  /** The stage: the summary's prefix before ':', a one-word summary, else the activity type; prefixed with the child's name for child workflows. */
  group: string;
  scheduledMs: number;
  /** Start of the LAST attempt (the only one history records); absent when it never started. */
  startedMs?: number;
  /** When it completed, failed, timed out or was cancelled; absent while open. */
  closedMs?: number;
  /** Number of the last attempt (1 = no retry); 0 when no attempt has started yet. */
  attempt: number;
  /** Why the previous attempt failed (only when attempt > 1). */
  lastFailure?: string;
  outcome: BarOutcome;
  /** The final failure or timeout message. */
  failure?: string;
}

/** Workflow-level status as the timeline shows it. */
export type RunStatus = 'running' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timedOut' | 'continuedAsNew';

/** Everything the timeline page shows. */
export interface TimelineModel {
  workflowId: string;
  runId?: string;
  workflowType: string;
  /** The root workflow's start, ISO 8601. */
  startTime: string;
  status: RunStatus;
  /** Start to close of the root workflow (to its last event while it is running). */
  wallClockMs: number;
  /** Largest time on the chart (wall clock, or a child's last event if later). */
  endMs: number;
  /** Stages: the root workflow's in the order their first activity was scheduled, then each child's. */
  groups: string[];
  /** Every activity, ordered by group then scheduled time. */
  bars: TimelineBar[];
  /** Child workflows whose activities are included. */
  children: string[];
}

/** A child workflow's history to include. */
export interface ChildHistory {
  workflowId: string;
  events: HistoryEvent[];
  /** Decoded summaries by scheduled event id (see {@link BuildOptions.summaries}). */
  summaries?: Map<string, string>;
}

/** Options of {@link buildTimeline}. */
export interface BuildOptions {
  /**
   * Summaries already decoded, by the ActivityTaskScheduled event id (as a string). Needed when
   * payloads are encrypted; otherwise the summary payload is decoded with the default converter.
   */
  summaries?: Map<string, string>;
  /** Child workflows (e.g. fanOut shards), their bars placed on the root's time axis. */
  children?: ChildHistory[];
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** Epoch ms of an event (sub-millisecond precision kept). `seconds` is a Long from gRPC, a number or string from JSON. */
function eventMs(e: HistoryEvent): number {
  const ts = e.eventTime;
  if (!ts) return 0;
  const s = ts.seconds as unknown;
  const seconds = typeof s === 'object' && s !== null && 'toNumber' in s ? (s as { toNumber(): number }).toNumber() : Number(s ?? 0);
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

/** The summary payload as text, or undefined when it cannot be read without a codec (encrypted). */
export function decodeSummary(p: Payload | null | undefined): string | undefined {
  if (!p) return undefined;
  try {
    const v = defaultPayloadConverter.fromPayload<unknown>(p);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A failure's message with its causes ("activity StartToClose timeout: …"). */
function failureMessage(f: temporal.api.failure.v1.IFailure | null | undefined): string | undefined {
  const parts: string[] = [];
  for (let cur = f, depth = 0; cur && depth < 4; cur = cur.cause, depth++) {
    if (cur.message && !parts.includes(cur.message)) parts.push(cur.message);
  }
  return parts.length ? parts.join(': ') : undefined;
}

/** The stage of an activity: `research: Acme` → research; `summary` → summary; otherwise the activity type. */
export function stageOf(summary: string | undefined, activityType: string): string {
  const s = summary?.trim();
  if (!s) return activityType;
  const colon = s.indexOf(':');
  if (colon > 0) return s.slice(0, colon).trim();
  if (!/\s/.test(s) && s.length <= 40) return s;
  return activityType;
}

const CLOSE_STATUS: [keyof HistoryEvent, RunStatus][] = [
  ['workflowExecutionCompletedEventAttributes', 'completed'],
  ['workflowExecutionFailedEventAttributes', 'failed'],
  ['workflowExecutionCanceledEventAttributes', 'canceled'],
  ['workflowExecutionTerminatedEventAttributes', 'terminated'],
  ['workflowExecutionTimedOutEventAttributes', 'timedOut'],
  ['workflowExecutionContinuedAsNewEventAttributes', 'continuedAsNew'],
];

/** The bars of one history; `originMs` is the root workflow's start (epoch ms). */
function barsOf(workflowId: string, events: HistoryEvent[], originMs: number, summaries: Map<string, string> | undefined, groupPrefix: string): TimelineBar[] {
  const bySchedule = new Map<string, TimelineBar>();
  for (const e of events) {
    const t = eventMs(e) - originMs;
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched) {
      const id = str(e.eventId);
      const activityType = sched.activityType?.name ?? 'activity';
      const summary = summaries?.get(id) ?? decodeSummary(e.userMetadata?.summary as Payload | undefined);
      bySchedule.set(id, {
        workflowId,
        activityId: sched.activityId ?? id,
        activityType,
        summary,
        label: summary ?? `${activityType} #${sched.activityId ?? id}`,
        group: groupPrefix + stageOf(summary, activityType),
        scheduledMs: t,
        attempt: 0,
        outcome: 'scheduled',
      });
      continue;
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const bar = bySchedule.get(str(started.scheduledEventId));
      if (!bar) continue;
      bar.startedMs = t;
      bar.attempt = started.attempt ?? 1;
      if (bar.attempt > 1) bar.lastFailure = failureMessage(started.lastFailure);
      if (bar.outcome === 'scheduled') bar.outcome = 'running';
      continue;
    }
    const closes: [BarOutcome, { scheduledEventId?: unknown; failure?: temporal.api.failure.v1.IFailure | null } | null | undefined][] = [
      ['completed', e.activityTaskCompletedEventAttributes],
      ['failed', e.activityTaskFailedEventAttributes],
      ['timedOut', e.activityTaskTimedOutEventAttributes],
      ['canceled', e.activityTaskCanceledEventAttributes],
    ];
    for (const [outcome, attrs] of closes) {
      if (!attrs) continue;
      const bar = bySchedule.get(str(attrs.scheduledEventId));
      if (!bar) break;
      bar.closedMs = t;
      bar.outcome = outcome;
      if (outcome === 'failed' || outcome === 'timedOut') bar.failure = failureMessage(attrs.failure);
      break;
    }
  }
  return [...bySchedule.values()];
}

/** Builds the timeline of a run from its history (and optionally its children's). */
export function buildTimeline(events: HistoryEvent[], opts: BuildOptions = {}): TimelineModel {
  const first = events.find((e) => e.workflowExecutionStartedEventAttributes);
  if (!first) throw new Error('not a workflow history: it has no WorkflowExecutionStarted event');
  const startAttrs = first.workflowExecutionStartedEventAttributes!;
  const originMs = eventMs(first);
  const workflowId = startAttrs.workflowId ?? '';
  let status: RunStatus = 'running';
  let closeMs: number | undefined;
  for (const e of events) {
    for (const [key, s] of CLOSE_STATUS) {
      if (e[key]) {
        status = s;
        closeMs = eventMs(e);
      }
    }
  }
  const lastMs = events.length ? eventMs(events[events.length - 1]) : originMs;
  const wallClockMs = (closeMs ?? lastMs) - originMs;

  const bars = barsOf(workflowId, events, originMs, opts.summaries, '');
  let endMs = wallClockMs;
  const children: string[] = [];
  for (const child of opts.children ?? []) {
    children.push(child.workflowId);
    const short = child.workflowId.startsWith(`${workflowId}/`) ? child.workflowId.slice(workflowId.length + 1) : child.workflowId;
    bars.push(...barsOf(child.workflowId, child.events, originMs, child.summaries, `${short} · `));
    if (child.events.length) endMs = Math.max(endMs, eventMs(child.events[child.events.length - 1]) - originMs);
  }
  for (const b of bars) endMs = Math.max(endMs, b.closedMs ?? b.startedMs ?? b.scheduledMs);

  // Groups: the root's first, then each child's in start order; within one workflow, by first scheduled activity.
  const owner = new Map([workflowId, ...children].map((id, i) => [id, i]));
  const firstSeen = new Map<string, number>();
  const ordered = [...bars].sort((x, y) => owner.get(x.workflowId)! - owner.get(y.workflowId)! || x.scheduledMs - y.scheduledMs);
  for (const b of ordered) if (!firstSeen.has(b.group)) firstSeen.set(b.group, firstSeen.size);
  bars.sort((x, y) => firstSeen.get(x.group)! - firstSeen.get(y.group)! || x.scheduledMs - y.scheduledMs || x.label.localeCompare(y.label));

  return {
    workflowId,
    runId: startAttrs.originalExecutionRunId ?? startAttrs.firstExecutionRunId ?? undefined,
    workflowType: startAttrs.workflowType?.name ?? '',
    startTime: new Date(originMs).toISOString(),
    status,
    wallClockMs,
    endMs,
    groups: [...firstSeen.keys()],
    bars,
    children,
  };
}

/** Child workflows a history started, with their run ids when known. */
export function childWorkflowsOf(events: HistoryEvent[]): { workflowId: string; runId?: string }[] {
  const out = new Map<string, string | undefined>();
  for (const e of events) {
    const initiated = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (initiated?.workflowId && !out.has(initiated.workflowId)) out.set(initiated.workflowId, undefined);
    const started = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (started?.workflowId) out.set(started.workflowId, started.runId ?? undefined);
  }
  return [...out].map(([workflowId, runId]) => ({ workflowId, runId }));
}
