/** Tables and summaries the CLI prints. */
import type { IntelResult } from '../workflows/competitive-intel';
import Table from 'cli-table3';
import type { DagStats, RunStats, TaskResult } from '../core/tasks';

/** The fields every run result has, plus workflow-specific ones. */

/** Formats milliseconds as seconds with one decimal. */
export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function oneLine(s: string, max: number): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A results table: one row per task, in input order. */
export function resultsTable(results: TaskResult[], opts: { group?: (r: TaskResult) => string | undefined } = {}): string {
  if (!opts.group && results.some((r) => r.group)) opts = { group: (r) => r.group };
  const groupHead = opts.group ? ['stage'] : [];
  const table = new Table({
    head: [...groupHead, 'task', 'state', 'time', 'tries', 'tokens in/out', 'output or error'],
    wordWrap: false,
    style: { head: [], border: [], compact: true },
  });
  for (const r of results) {
    const detail = r.success
      ? (r.cached ? '[cached] ' : '') + oneLine(r.output ?? '', 60) + (r.truncated ? ' [cut at max_tokens]' : '')
      : oneLine(`${r.errorType ?? ''} ${r.error ?? ''}`, 60);
    table.push([
      ...(opts.group ? [opts.group(r) ?? ''] : []),
      oneLine(r.name, 28),
      r.state,
      secs(r.durationMs),
      String(r.attempts),
      `${r.tokens.input}/${r.tokens.output}`,
      detail,
    ]);
  }
  return table.toString();
}

/** The run's numbers in a few lines. */
export function statsLines(s: RunStats): string {
  const parts = [
    `tasks: ${s.total} (${s.succeeded} succeeded, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''}${s.cancelled ? `, ${s.cancelled} cancelled` : ''}); success rate ${(s.successRate * 100).toFixed(0)}%`,
    `wall clock ${secs(s.wallClockMs)} vs ${secs(s.sumDurationMs)} of LLM calls end to end: speedup ${s.speedup.toFixed(1)}x`,
    `tokens: ${s.tokens.input} in, ${s.tokens.output} out; estimated cost $${(s.costUsd ?? 0).toFixed(4)}` +
      (s.costByGroup
        ? ` (${Object.entries(s.costByGroup)
            .map(([g, c]) => `${g} $${c.toFixed(4)}`)
            .join(', ')})`
        : ''),
  ];
  if (s.cacheHits) parts.push(`cache: ${s.cacheHits} calls answered from cache, ${s.tokensSaved.input + s.tokensSaved.output} tokens saved`);
  const extra = s as RunStats & Partial<Pick<DagStats, 'idealMakespanMs' | 'criticalPath'>>;
  if (extra.idealMakespanMs !== undefined && extra.criticalPath) {
    parts.push(
      `ideal makespan ${secs(extra.idealMakespanMs)} (critical path ${extra.criticalPath.join(' → ')}): wall / ideal = ${(s.wallClockMs / Math.max(1, extra.idealMakespanMs)).toFixed(2)}`,
    );
  }
  return parts.join('\n');
}

/** The intel run's closing summary. */
export function renderIntel(r: IntelResult): string {
  const missing = r.missing;
  const lines = [resultsTable(r.results), statsLines(r.stats)];
  if (missing.length) lines.push(`missing from the summary: ${missing.map((m) => `${m.company} (${m.reason})`).join('; ')}`);
  if (r.reportPath) lines.push(`report: ${r.reportPath}`);
  return lines.join('\n');
}
