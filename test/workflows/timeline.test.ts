/**
 * Run timelines built from real histories on the real dev server: one bar per activity, stages,
 * retries and failures marked, dependency order visible, child workflows included, and a page
 * that is self-contained. Plus the CLI that writes it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { buildTimeline, loadTimeline, renderTimelineHtml, type HistoryEvent, type TimelineBar, type TimelineModel } from '../../src/timeline';
import type { IntelResult } from '../../src/workflows/competitive-intel';
import type { DagResult } from '../../src/workflows/run-dag';
import type { FanOutResult } from '../../src/workflows/fan-out';
import { sharedHarness } from '../helpers/harness';

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const exec = promisify(execFile);

/** Every external reference a page could make; a self-contained page has none. */
function expectSelfContained(html: string): void {
  expect(html).not.toMatch(/https?:\/\//i);
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/<link\b/i);
  expect(html).not.toMatch(/\b(src|href)\s*=/i);
  expect(html).not.toMatch(/@import|url\((?!#)/i);
}

const scheduledCount = (events: HistoryEvent[]) => events.filter((e) => e.activityTaskScheduledEventAttributes).length;

function recorded(name: string): HistoryEvent[] {
  return historyFromJSON(JSON.parse(fs.readFileSync(path.join(ROOT, 'test/histories', `${name}.json`), 'utf8'))).events ?? [];
}

describe('timeline model from recorded histories (no server)', () => {
  test('competitiveIntel: stages from summaries, a failure, relative times and wall clock', () => {
    const events = recorded('competitiveIntel');
    const m = buildTimeline(events);
    expect(m.bars).toHaveLength(scheduledCount(events));
    expect(m.groups).toEqual(['research', 'analyze', 'summary', 'writeRunFile']);
    expect(m.bars.find((b) => b.label === 'research: Globex')).toMatchObject({ outcome: 'failed', attempt: 1, failure: expect.stringContaining('HTTP 400') });
    for (const b of m.bars) {
      expect(b.scheduledMs).toBeGreaterThanOrEqual(0);
      expect(b.startedMs!).toBeGreaterThanOrEqual(b.scheduledMs);
      expect(b.closedMs!).toBeGreaterThanOrEqual(b.startedMs!);
      expect(b.closedMs!).toBeLessThanOrEqual(m.wallClockMs);
    }
    expect(m.status).toBe('completed');
  });

  test('a run still in flight: open bars, status running', () => {
    const events = recorded('competitiveIntel');
    const cut = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
    const m = buildTimeline(events.slice(0, cut));
    expect(m.status).toBe('running');
    expect(m.bars.some((b) => b.outcome === 'running' || b.outcome === 'scheduled')).toBe(true);
    expect(renderTimelineHtml(m)).toContain('still open');
  });

  test('child histories are drawn on the root time axis, grouped per child', () => {
    const parent = recorded('pipeline');
    const child = recorded('fanOut-partial-failure');
    const parentId = buildTimeline(parent).workflowId;
    const m = buildTimeline(parent, { children: [{ workflowId: `${parentId}/shard-1`, events: child }] });
    expect(m.children).toEqual([`${parentId}/shard-1`]);
    expect(m.bars).toHaveLength(scheduledCount(parent) + scheduledCount(child));
    expect(m.groups).toEqual(expect.arrayContaining(['gather', 'write', 'shard-1 · a', 'shard-1 · c']));
    expect(m.bars.filter((b) => b.workflowId === `${parentId}/shard-1`)).toHaveLength(scheduledCount(child));
  });
});

describe('timeline on the dev server', () => {
  const h = sharedHarness({ llm: { ttftMs: 60, perTokenMs: 0, outputTokens: 8 } });

  const byLabel = (m: TimelineModel, label: string): TimelineBar => {
    const b = m.bars.find((x) => x.label === label);
    if (!b) throw new Error(`no bar "${label}" in ${m.bars.map((x) => x.label).join(', ')}`);
    return b;
  };

  test('competitiveIntel with a retry and a permanent failure', async () => {
    h.llm.setFaults([
      { match: 'Research Globex', times: 1, fault: { kind: 'status', status: 500 } },
      { match: 'Research Initech', fault: { kind: 'status', status: 400, message: 'initech is off limits' } },
    ]);
    const handle = await h.start('competitiveIntel', { companies: ['Acme', 'Globex', 'Initech'] });
    const r = (await handle.result()) as IntelResult;
    expect(r.stats).toMatchObject({ succeeded: 5, failed: 1, skipped: 1 });
    const events = (await handle.fetchHistory()).events ?? [];
    const m = await loadTimeline(h.client, handle.workflowId);

    // Exactly one bar per activity in the history, each grouped by its stage.
    expect(m.bars).toHaveLength(scheduledCount(events));
    expect(m.groups).toEqual(['research', 'analyze', 'summary', 'writeRunFile']);
    const labels = (g: string) =>
      m.bars
        .filter((b) => b.group === g)
        .map((b) => b.label)
        .sort();
    expect(labels('research')).toEqual(['research: Acme', 'research: Globex', 'research: Initech']);
    expect(labels('analyze')).toEqual(['analyze: Acme', 'analyze: Globex']);
    expect(labels('summary')).toEqual(['summary']);
    expect(labels('writeRunFile')).toEqual(['write report.md']);

    // The retry: one bar, attempt 2, the 500 as its last failure; it started after the backoff.
    const globex = byLabel(m, 'research: Globex');
    expect(globex).toMatchObject({ attempt: 2, outcome: 'completed' });
    expect(globex.lastFailure).toMatch(/500|server error/i);
    expect(globex.startedMs! - globex.scheduledMs).toBeGreaterThanOrEqual(900);
    // The permanent failure.
    expect(byLabel(m, 'research: Initech')).toMatchObject({ outcome: 'failed', attempt: 1, failure: expect.stringContaining('initech is off limits') });
    for (const b of m.bars.filter((x) => !['research: Globex', 'research: Initech'].includes(x.label))) expect(b).toMatchObject({ outcome: 'completed', attempt: 1 });

    // Dependencies: analysis after its own research, the summary after every analysis (and the failed research).
    for (const c of ['Acme', 'Globex']) expect(byLabel(m, `analyze: ${c}`).scheduledMs).toBeGreaterThanOrEqual(byLabel(m, `research: ${c}`).closedMs!);
    const summary = byLabel(m, 'summary');
    for (const label of ['analyze: Acme', 'analyze: Globex', 'research: Initech']) expect(summary.scheduledMs).toBeGreaterThanOrEqual(byLabel(m, label).closedMs!);
    // Analysis of Acme does not wait for Globex's retry (no stage barrier).
    expect(byLabel(m, 'analyze: Acme').scheduledMs).toBeLessThan(globex.closedMs!);
    expect(m.wallClockMs).toBeGreaterThanOrEqual(summary.closedMs!);

    const html = renderTimelineHtml(m, 'intel timeline');
    expectSelfContained(html);
    for (const text of ['research: Globex', 'analyze: Acme', 'initech is off limits', '↻2', '✗ failed', 'seconds since start']) expect(html).toContain(text);
  });

  test('runDag: dependents start after their dependencies closed; retried and failed nodes marked', async () => {
    h.llm.setFaults([
      { match: 'beta node', times: 1, fault: { kind: 'status', status: 500 } },
      { match: 'xray node', fault: { kind: 'status', status: 400, message: 'xray rejected' } },
    ]);
    const handle = await h.start('runDag', {
      nodes: [
        { id: 'a', prompt: 'alpha node' },
        { id: 'b', prompt: 'beta node after {{a}}', dependsOn: ['a'] },
        { id: 'c', prompt: 'gamma node after {{a}}', dependsOn: ['a'] },
        { id: 'd', prompt: 'delta node after {{b}} {{c}}', dependsOn: ['b', 'c'] },
        { id: 'x', prompt: 'xray node' },
        { id: 'y', prompt: 'yankee node after {{x}}', dependsOn: ['x'] },
      ],
    });
    const r = (await handle.result()) as DagResult;
    expect(r.results.map((n) => [n.taskId, n.state])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
      ['c', 'succeeded'],
      ['d', 'succeeded'],
      ['x', 'failed'],
      ['y', 'skipped'],
    ]);
    const events = (await handle.fetchHistory()).events ?? [];
    const m = await loadTimeline(h.client, handle.workflowId);
    expect(m.bars).toHaveLength(scheduledCount(events));
    expect(m.bars.map((b) => b.label).sort()).toEqual(['a', 'b', 'c', 'd', 'x']); // y was skipped: no activity, no bar
    for (const b of m.bars) expect(b.group).toBe(b.label); // a one-word summary names its own stage
    expect(byLabel(m, 'b')).toMatchObject({ attempt: 2, outcome: 'completed' });
    expect(byLabel(m, 'x')).toMatchObject({ attempt: 1, outcome: 'failed', failure: expect.stringContaining('xray rejected') });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => byLabel(m, id));
    expect(b.scheduledMs).toBeGreaterThanOrEqual(a.closedMs!);
    expect(c.scheduledMs).toBeGreaterThanOrEqual(a.closedMs!);
    expect(d.scheduledMs).toBeGreaterThanOrEqual(Math.max(b.closedMs!, c.closedMs!));
    // c did not wait for b's retry.
    expect(c.closedMs!).toBeLessThan(b.closedMs!);
    expectSelfContained(renderTimelineHtml(m));
  });

  test("a sharded fanOut: the child workflows' activities are fetched and included", async () => {
    const tasks = Array.from({ length: 1001 }, (_, i) => ({ name: `task ${i}`, prompt: `shard timeline ${i}` }));
    h.llm.setLatency({ ttftMs: 0, perTokenMs: 0, outputTokens: 2 });
    const handle = await h.start('fanOut', { tasks, maxConcurrent: 200 });
    const r = (await handle.result()) as FanOutResult;
    expect(r.shards).toHaveLength(2);
    const m = await loadTimeline(h.client, handle.workflowId);
    expect(m.children).toEqual(r.shards);
    expect(m.bars).toHaveLength(1001);
    expect(m.groups).toEqual(['shard-1 · callLlm', 'shard-2 · callLlm']);
    expect(m.bars.filter((b) => b.workflowId === r.shards[1])).toHaveLength(1);
    expect(m.bars.every((b) => b.outcome === 'completed' && b.scheduledMs > 0)).toBe(true);
    expectSelfContained(renderTimelineHtml(m));
  });

  test('CLI: `timeline <id>` writes runs/<id>/timeline.html; a CLI run writes it and reports timelinePath', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timeline-cli-'));
    const env = { ...process.env, TEMPORAL_ADDRESS: h.address, TEMPORAL_TASK_QUEUE: h.taskQueue, ANTHROPIC_API_KEY: '', RUNS_DIR: path.join(dir, 'runs') };
    const spec = path.join(dir, 'dag.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        name: 'tl',
        nodes: [
          { id: 'one', prompt: 'first' },
          { id: 'two', prompt: 'second {{one}}', dependsOn: ['one'] },
        ],
      }),
    );
    const started = await exec(TSX, [path.join(ROOT, 'src/cli/main.ts'), 'dag', spec, '--json', '--id', 'tl/run 1'], { cwd: ROOT, env });
    const out = JSON.parse(started.stdout) as { workflowId: string; timelinePath: string };
    const expected = path.join(dir, 'runs', 'tl_run_1', 'timeline.html');
    expect(out.timelinePath).toBe(expected);
    expectSelfContained(fs.readFileSync(expected, 'utf8'));
    fs.rmSync(expected);

    const cmd = await exec(TSX, [path.join(ROOT, 'src/cli/main.ts'), 'timeline', 'tl/run 1'], { cwd: ROOT, env });
    expect(cmd.stdout.trim()).toBe(expected);
    const html = fs.readFileSync(expected, 'utf8');
    expect(html).toContain('second');
    expect(html).toContain('tl/run 1');

    const other = path.join(dir, 'elsewhere.html');
    const withOut = await exec(TSX, [path.join(ROOT, 'src/cli/main.ts'), 'timeline', 'tl/run 1', '--out', other], { cwd: ROOT, env });
    expect(withOut.stdout.trim()).toBe(other);
    expect(fs.existsSync(other)).toBe(true);

    const missing = await exec(TSX, [path.join(ROOT, 'src/cli/main.ts'), 'timeline', 'no-such-run'], { cwd: ROOT, env }).catch((e: { code: number; stderr: string }) => e);
    expect((missing as { code: number }).code).toBe(1);
    expect((missing as { stderr: string }).stderr).toContain('no run with id no-such-run');
  });
});
