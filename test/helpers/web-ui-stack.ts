/**
 * For the Web UI test: a dev server of its own WITH the Web UI (the shared test server is
 * headless), the project's real workers on it (the same harness the other tests use), and a
 * headless Debian chromium driven through playwright-core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { freePort, temporalBinary, waitForTemporal } from '../../scripts/dev-server';
import { startHarness, type Harness, type HarnessOptions } from './harness';

/** Debian's chromium (`apt-get install chromium`); .ci/run installs it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A dev server with its Web UI, and a harness (workers, client, local LLM) on it. */
export interface UiStack {
  address: string;
  uiUrl: string;
  h: Harness;
  close(): Promise<void>;
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the Web UI at ${url} did not answer within ${timeoutMs} ms (${last})`);
}

function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/**
 * `temporal server start-dev` with its Web UI, as scripts/dev-server.ts's spawnDevServer starts it
 * (same flags), but keeping its output: when it does not come up, the error says why.
 */
async function startDevServerWithUi(): Promise<{ proc: ChildProcess; address: string; uiUrl: string }> {
  const port = await freePort();
  let uiPort = await freePort();
  while (uiPort === port) uiPort = await freePort();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--log-level', 'warn', '--ui-disable-news-fetch'];
  const proc = spawn(temporalBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code, signal) => reject(new Error(`the dev server exited (${signal ?? `code ${code}`}) before it was ready:\n${output}`))),
  );
  exited.catch(() => undefined);
  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  try {
    await Promise.race([Promise.all([waitForTemporal(address, 60_000), waitForHttp(uiUrl, 60_000)]), exited]);
  } catch (err) {
    await stopProcess(proc);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n(temporal ${args.join(' ')}; its output: ${output.trim() || 'none'})`);
  }
  return { proc, address, uiUrl };
}

/** Starts a dev server with the UI on free ports, waits for both, and wires a harness to it. */
export async function startUiStack(o: HarnessOptions = {}): Promise<UiStack> {
  const { proc, address, uiUrl } = await startDevServerWithUi();
  // The harness reads the server address from the environment the global setup sets; point it at
  // this server for the duration of the call only.
  const shared = process.env.TEST_TEMPORAL_ADDRESS;
  process.env.TEST_TEMPORAL_ADDRESS = address;
  let h: Harness;
  try {
    h = await startHarness(o);
  } catch (err) {
    await stopProcess(proc);
    throw err;
  } finally {
    process.env.TEST_TEMPORAL_ADDRESS = shared;
  }
  return {
    address,
    uiUrl,
    h,
    async close() {
      await h.close();
      await stopProcess(proc);
    },
  };
}

/** Launches headless chromium, or fails saying how to install it (the test is never skipped). */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `chromium is not installed at ${CHROMIUM}: the Web UI test drives a real browser. Install Debian's package with ` +
        '`apt-get update && apt-get install -y chromium` (`npm test` does this when it runs as root), or set CHROMIUM_PATH.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}
