/**
 * Renders a {@link TimelineModel} as one self-contained HTML page: inline CSS and SVG, no script,
 * no font, image or stylesheet from anywhere (it opens offline, from a file, and can be mailed).
 * Tooltips are SVG <title> elements, which browsers show on hover without any script.
 */
import type { BarOutcome, TimelineBar, TimelineModel } from './model';

const LABEL_W = 280;
const PLOT_W = 920;
const RIGHT_PAD = 70;
const ROW_H = 18;
const BAR_H = 12;
const GROUP_H = 24;
const AXIS_H = 30;
const TOP = 8;

const OUTCOME_TEXT: Record<BarOutcome, string> = {
  completed: 'completed',
  failed: 'failed',
  timedOut: 'timed out',
  canceled: 'cancelled',
  running: 'running',
  scheduled: 'not started yet',
};

/** Escapes text for HTML / SVG content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Seconds with a precision that suits the run's length. */
export function fmtSeconds(ms: number, endMs = ms): string {
  const s = ms / 1000;
  const digits = endMs < 2000 ? 2 : endMs < 60_000 ? 1 : 0;
  return `${s.toFixed(digits)} s`;
}

/** A tick step (seconds) giving at most ~10 ticks over endMs. */
function tickStep(endMs: number): number {
  const endS = endMs / 1000;
  for (const step of [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]) {
    if (endS / step <= 10) return step;
  }
  return Math.ceil(endS / 10 / 86400) * 86400;
}

function shorten(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function tooltip(b: TimelineBar, endMs: number): string {
  const lines = [b.label, `${b.activityType} #${b.activityId}${b.workflowId ? ` in ${b.workflowId}` : ''}`, `stage: ${b.group}`];
  lines.push(`scheduled at ${fmtSeconds(b.scheduledMs, endMs)}`);
  if (b.startedMs !== undefined) {
    const wait = b.startedMs - b.scheduledMs;
    lines.push(
      b.attempt > 1
        ? `attempt ${b.attempt} started at ${fmtSeconds(b.startedMs, endMs)} (${fmtSeconds(wait, endMs)} of earlier attempts, backoff and queue wait)`
        : `started at ${fmtSeconds(b.startedMs, endMs)} (queued ${fmtSeconds(wait, endMs)})`,
    );
  }
  if (b.closedMs !== undefined) {
    const ran = b.startedMs !== undefined ? ` after running ${fmtSeconds(b.closedMs - b.startedMs, endMs)}` : '';
    lines.push(`${OUTCOME_TEXT[b.outcome]} at ${fmtSeconds(b.closedMs, endMs)}${ran}`);
  } else {
    lines.push(OUTCOME_TEXT[b.outcome]);
  }
  if (b.attempt > 1) lines.push(`retried: attempt ${b.attempt}; previous attempt failed with: ${b.lastFailure ?? 'unknown error'}`);
  if (b.failure) lines.push(`error: ${b.failure}`);
  return lines.join('\n');
}

/** The SVG chart. */
function chart(m: TimelineModel): string {
  const endMs = Math.max(1, m.endMs);
  const x = (ms: number) => LABEL_W + (Math.max(0, ms) / endMs) * PLOT_W;
  const rows: string[] = [];
  let y = TOP + AXIS_H;
  for (const group of m.groups) {
    const bars = m.bars.filter((b) => b.group === group);
    rows.push(`<text class="group" x="6" y="${y + GROUP_H - 8}">${escapeHtml(shorten(group, 40))} <tspan class="count">(${bars.length})</tspan></text>`);
    rows.push(`<line class="sep" x1="0" x2="${LABEL_W + PLOT_W + RIGHT_PAD}" y1="${y + 0.5}" y2="${y + 0.5}"/>`);
    y += GROUP_H;
    for (const b of bars) {
      const yb = y + (ROW_H - BAR_H) / 2;
      const startQ = b.scheduledMs;
      const endQ = b.startedMs ?? b.closedMs ?? endMs;
      const parts: string[] = [];
      const qw = Math.max(x(endQ) - x(startQ), 1);
      parts.push(`<rect class="q ${b.outcome}" x="${x(startQ).toFixed(1)}" y="${yb}" width="${qw.toFixed(1)}" height="${BAR_H}"/>`);
      if (b.attempt > 1) parts.push(`<rect class="hatch" x="${x(startQ).toFixed(1)}" y="${yb}" width="${qw.toFixed(1)}" height="${BAR_H}"/>`);
      let barEnd = x(endQ);
      if (b.startedMs !== undefined) {
        const endX = b.closedMs ?? endMs;
        const w = Math.max(x(endX) - x(b.startedMs), 1.5);
        parts.push(`<rect class="x ${b.outcome}" x="${x(b.startedMs).toFixed(1)}" y="${yb}" width="${w.toFixed(1)}" height="${BAR_H}"/>`);
        barEnd = x(b.startedMs) + w;
      }
      const marks: string[] = [];
      if (b.attempt > 1) marks.push(`<tspan class="retry-mark">↻${b.attempt}</tspan>`);
      if (b.outcome === 'failed') marks.push('<tspan class="fail-mark">✗ failed</tspan>');
      if (b.outcome === 'timedOut') marks.push('<tspan class="timeout-mark">⏱ timed out</tspan>');
      if (b.outcome === 'canceled') marks.push('<tspan class="cancel-mark">⊘ cancelled</tspan>');
      if (marks.length) parts.push(`<text class="mark" x="${(barEnd + 4).toFixed(1)}" y="${yb + BAR_H - 2}">${marks.join(' ')}</text>`);
      const cls = ['bar', b.outcome, b.attempt > 1 ? 'retried' : ''].filter(Boolean).join(' ');
      rows.push(
        `<g class="${cls}" data-activity-id="${escapeHtml(b.activityId)}"><title>${escapeHtml(tooltip(b, endMs))}</title>` +
          `<rect class="hit" x="0" y="${y}" width="${LABEL_W + PLOT_W + RIGHT_PAD}" height="${ROW_H}"/>` +
          `<text class="label" x="18" y="${yb + BAR_H - 2}">${escapeHtml(shorten(b.label, 42))}</text>${parts.join('')}</g>`,
      );
      y += ROW_H;
    }
  }
  const height = y + 10;
  const step = tickStep(endMs);
  const ticks: string[] = [];
  for (let s = 0; s * 1000 <= endMs + 1e-6; s += step) {
    const tx = x(s * 1000).toFixed(1);
    const label = step < 1 ? s.toFixed(step < 0.1 ? 2 : 1) : String(Math.round(s));
    ticks.push(`<line class="grid" x1="${tx}" x2="${tx}" y1="${TOP + AXIS_H - 6}" y2="${height}"/><text class="tick" x="${tx}" y="${TOP + AXIS_H - 10}">${label}</text>`);
  }
  const wx = x(m.wallClockMs).toFixed(1);
  const wall =
    m.status === 'running'
      ? ''
      : `<line class="wall" x1="${wx}" x2="${wx}" y1="${TOP + AXIS_H - 6}" y2="${height}"><title>workflow closed at ${escapeHtml(fmtSeconds(m.wallClockMs))}</title></line>`;
  return (
    `<svg class="chart" width="${LABEL_W + PLOT_W + RIGHT_PAD}" height="${height}" viewBox="0 0 ${LABEL_W + PLOT_W + RIGHT_PAD} ${height}" role="img" aria-label="activity timeline">` +
    '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="3" height="6" fill="#e0a100" fill-opacity="0.55"/></pattern></defs>' +
    `<text class="axis-title" x="${LABEL_W - 24}" y="${TOP + AXIS_H - 10}">seconds since start</text>` +
    ticks.join('') +
    rows.join('') +
    wall +
    '</svg>'
  );
}

const CSS = `
:root { color-scheme: light; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; margin: 24px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
.meta { color: #4a5468; margin: 0 0 12px; }
.meta b { color: #1d2330; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 8px 0 14px; padding: 8px 10px; background: #f5f7fb; border: 1px solid #e1e6ef; border-radius: 6px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.sw { display: inline-block; width: 22px; height: 10px; border-radius: 2px; }
.sw.q { background: #3b6fd1; opacity: .35; }
.sw.completed { background: #3b6fd1; }
.sw.failed { background: #d43d3d; }
.sw.timedOut { background: #e6891f; }
.sw.canceled { background: #8d8d8d; }
.sw.running { background: #2f9e63; }
.sw.retry { background: repeating-linear-gradient(45deg, #e0a100 0 3px, #f6e7bb 3px 6px); }
.scroll { overflow-x: auto; }
svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; fill: #1d2330; }
svg.chart text.group { font-weight: 600; }
svg.chart .count { font-weight: 400; fill: #6b7488; }
svg.chart text.tick { text-anchor: middle; fill: #4a5468; font-size: 11px; }
svg.chart text.axis-title { text-anchor: end; fill: #6b7488; font-size: 11px; }
svg.chart line.grid { stroke: #eef1f6; }
svg.chart line.sep { stroke: #d8dee9; }
svg.chart line.wall { stroke: #1d2330; stroke-dasharray: 4 3; }
svg.chart rect.hit { fill: transparent; }
svg.chart g.bar:hover rect.hit { fill: #f1f5fd; }
svg.chart rect.completed { fill: #3b6fd1; }
svg.chart rect.failed { fill: #d43d3d; }
svg.chart rect.timedOut { fill: #e6891f; }
svg.chart rect.canceled { fill: #8d8d8d; }
svg.chart rect.running, svg.chart rect.scheduled { fill: #2f9e63; }
svg.chart rect.q { fill-opacity: .35; }
svg.chart rect.hatch { fill: url(#hatch); }
svg.chart text.mark { font-size: 11px; }
svg.chart .retry-mark { fill: #a66f00; font-weight: 600; }
svg.chart .fail-mark { fill: #b32525; font-weight: 600; }
svg.chart .timeout-mark { fill: #b8620a; font-weight: 600; }
svg.chart .cancel-mark { fill: #5f5f5f; }
table { border-collapse: collapse; margin-top: 18px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #e1e6ef; vertical-align: top; }
th { background: #f5f7fb; font-weight: 600; }
td.err { color: #8a1f1f; max-width: 700px; }
footer { margin-top: 18px; color: #6b7488; font-size: 12px; }
`;

/** The issues table: every retried, failed, timed-out or cancelled activity with its messages (visible without hovering). */
function issuesTable(m: TimelineModel): string {
  const rows = m.bars.filter((b) => b.attempt > 1 || ['failed', 'timedOut', 'canceled'].includes(b.outcome));
  if (!rows.length) return '';
  const body = rows
    .map(
      (b) =>
        `<tr><td>${escapeHtml(b.group)}</td><td>${escapeHtml(b.label)}</td><td>${escapeHtml(OUTCOME_TEXT[b.outcome])}</td><td>${b.attempt}</td>` +
        `<td class="err">${escapeHtml([b.failure, b.attempt > 1 ? `previous attempt: ${b.lastFailure ?? 'unknown error'}` : undefined].filter(Boolean).join(' — '))}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>stage</th><th>activity</th><th>outcome</th><th>attempt</th><th>error</th></tr></thead><tbody>${body}</tbody></table>`;
}

/** The whole page. */
export function renderTimelineHtml(m: TimelineModel, title = `Timeline of ${m.workflowId}`): string {
  const count = (pred: (b: TimelineBar) => boolean) => m.bars.filter(pred).length;
  const retried = count((b) => b.attempt > 1);
  const failed = count((b) => b.outcome === 'failed');
  const timedOut = count((b) => b.outcome === 'timedOut');
  const canceled = count((b) => b.outcome === 'canceled');
  const open = count((b) => b.outcome === 'running' || b.outcome === 'scheduled');
  const counts = [
    `${m.bars.length} activities`,
    `${count((b) => b.outcome === 'completed')} completed`,
    retried ? `${retried} retried` : '',
    failed ? `${failed} failed` : '',
    timedOut ? `${timedOut} timed out` : '',
    canceled ? `${canceled} cancelled` : '',
    open ? `${open} still open` : '',
  ].filter(Boolean);
  const legend = [
    '<span><i class="sw q"></i>queue wait (scheduled → started)</span>',
    '<span><i class="sw completed"></i>execution, completed</span>',
    '<span><i class="sw failed"></i>failed</span>',
    '<span><i class="sw timedOut"></i>timed out</span>',
    '<span><i class="sw canceled"></i>cancelled</span>',
    '<span><i class="sw running"></i>still running</span>',
    '<span><i class="sw retry"></i>↻n retried: attempt n; earlier attempts + backoff (hover for the last error)</span>',
    '<span>┆ workflow closed</span>',
  ].join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="meta"><b>${escapeHtml(m.workflowType)}</b> · ${escapeHtml(m.workflowId)}${m.runId ? ` · run ${escapeHtml(m.runId)}` : ''} · <b>${escapeHtml(m.status)}</b><br>
started ${escapeHtml(m.startTime)} · wall clock <b>${escapeHtml(fmtSeconds(m.wallClockMs))}</b>${m.status === 'running' ? ' so far' : ''} · ${escapeHtml(counts.join(', '))}${
    m.children.length ? `<br>includes ${m.children.length} child workflow${m.children.length > 1 ? 's' : ''}: ${escapeHtml(m.children.join(', '))}` : ''
  }</p>
<div class="legend">${legend}</div>
<div class="scroll">${m.bars.length ? chart(m) : '<p>No activities in this run.</p>'}</div>
${issuesTable(m)}
<footer>One bar per activity: Temporal's history records only the last attempt's start (with its attempt number and the previous failure), so retries show as a count on one bar, not as separate bars.</footer>
</body>
</html>
`;
}
