/**
 * The Temporal Web UI in a real browser: a dev server of its own with the UI on, a competitiveIntel
 * run on 2 companies by the project's workers, then headless chromium reads what the UI renders —
 * the pending activity while the summary is in flight, the timeline and the event history with
 * every activity's summary once it is done — and saves a screenshot to runs/web-ui-<id>.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { IntelResult } from '../../src/workflows/competitive-intel';
import { launchChromium, startUiStack, type UiStack } from '../helpers/web-ui-stack';

const ROOT = path.resolve(__dirname, '../..');
const COMPANIES = ['Acme', 'Globex'];
/** Every activity of the run: [activity type, summary]. */
const EXPECTED: [string, string][] = [
  ['callLlm', 'analyze: Acme'],
  ['callLlm', 'analyze: Globex'],
  ['callLlm', 'research: Acme'],
  ['callLlm', 'research: Globex'],
  ['callLlm', 'summary'],
  ['writeRunFile', 'write report.md'],
];

describe('Temporal Web UI', () => {
  let s: UiStack;
  let browser: Browser | undefined;
  beforeAll(async () => {
    s = await startUiStack({ llm: { ttftMs: 150, perTokenMs: 0, outputTokens: 10 } });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  /** Waits until `text` is rendered and visible; on timeout says what the page showed instead. */
  async function seen(page: Page, text: string | RegExp, opts: { exact?: boolean; timeout?: number } = {}): Promise<void> {
    try {
      await page
        .getByText(text, { exact: opts.exact ?? false })
        .filter({ visible: true })
        .first()
        .waitFor({ state: 'visible', timeout: opts.timeout ?? 20_000 });
    } catch {
      const body = (await page.innerText('body').catch(() => '')).replace(/\s+/g, ' ').slice(0, 1500);
      throw new Error(`the Web UI at ${page.url()} does not show "${text}"; it shows: ${body}`);
    }
  }

  test('a competitiveIntel run: pending activity, timeline and event history with summaries; screenshot', async () => {
    browser = await launchChromium(); // first: fails at once, saying how to install it, when chromium is missing
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    // The summary call takes 8 s, so the browser sees the run while it is in flight.
    s.h.llm.setFaults([{ match: 'comparative summary', fault: { kind: 'latency', ttftMs: 8000 } }]);
    const workflowId = `intel-webui-${new Date().toISOString().slice(0, 10)}-${Math.random().toString(36).slice(2, 8)}`;
    const handle = await s.h.start('competitiveIntel', { companies: COMPANIES }, workflowId);
    const { runId } = await handle.describe();
    const deadline = Date.now() + 30_000;
    while (!s.h.llm.stats().requests.some((r) => r.prompt.includes('comparative summary'))) {
      if (Date.now() > deadline) throw new Error('the summary call never started');
      await new Promise((r) => setTimeout(r, 100));
    }
    const summaryActivityId = (await handle.fetchHistory()).events!.find(
      (e) => e.activityTaskScheduledEventAttributes && Buffer.from(e.userMetadata?.summary?.data ?? []).toString() === '"summary"',
    )!.activityTaskScheduledEventAttributes!.activityId!;

    const base = `${s.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;

    // The run's own page (the link the CLI prints) resolves to its current run.
    await page.goto(base, { waitUntil: 'domcontentloaded' });
    await page.waitForURL((u) => u.pathname.includes(runId), { timeout: 20_000 });
    await seen(page, workflowId);
    await seen(page, /^running$/i); // the status badge (upper-cased by CSS)

    // In flight: the Pending Activities view shows the summary call, started, on attempt 1.
    await page.goto(`${base}/${runId}/pending-activities`, { waitUntil: 'domcontentloaded' });
    await seen(page, /^started$/i);
    const pending = (await page.innerText('main').catch(() => page.innerText('body'))).replace(/\s+/g, ' ');
    expect(pending).toContain('callLlm');
    expect(pending).toMatch(new RegExp(`Activity ID ${summaryActivityId}\\b`));
    expect(pending).toMatch(/Attempt 1 \/ 5/);

    const r = (await handle.result()) as IntelResult;
    expect(r.stats).toMatchObject({ total: 5, succeeded: 5, failed: 0 });

    // Done: the timeline lists every activity as "<type> • <summary>".
    await page.goto(`${base}/${runId}/timeline`, { waitUntil: 'domcontentloaded' });
    await seen(page, /^completed$/i);
    await seen(page, 'competitiveIntel', { exact: true });
    for (const [type, summary] of EXPECTED) await seen(page, `${type} • ${summary}`);
    const shot = path.join(ROOT, 'runs', `web-ui-${workflowId}.png`);
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.getByText('callLlm • summary').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: shot, fullPage: true });
    expect(fs.statSync(shot).size).toBeGreaterThan(20_000);

    // The event history: one ActivityTaskScheduled row per activity, with its type and summary.
    await page.goto(`${base}/${runId}/history`, { waitUntil: 'domcontentloaded' });
    await seen(page, 'Activity Task Scheduled');
    const rows = page.locator('tr', { hasText: 'Activity Task Scheduled' });
    const scheduled = (await rows.allInnerTexts()).map((t) => {
      const flat = t.replace(/\s+/g, ' ');
      const m = /Activity Type (\S+) Summary (.+?)\s*$/.exec(flat);
      if (!m) throw new Error(`an Activity Task Scheduled row without type and summary: ${flat}`);
      return [m[1], m[2]] as [string, string];
    });
    expect(scheduled.sort()).toEqual(EXPECTED);
  });
});
