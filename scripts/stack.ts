/**
 * Starts what a local run needs and is not running yet: the Temporal dev server (SQLite file,
 * Web UI), the local LLM server (when no real API key is configured) and a worker. Each is a
 * detached process with its pid in .run/ and its log in .run/<name>.log; `npm run down` stops them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Config } from '../src/config';
import { llmTaskQueue } from '../src/core/names';
import { ROOT, spawnDevServer, waitForTemporal } from './dev-server';

const RUN_DIR = path.join(ROOT, '.run');

function pidFile(name: string): string {
  return path.join(RUN_DIR, `${name}.pid`);
}

/** Whether the process recorded under name is alive. */
export function isRunning(name: string): boolean {
  try {
    const pid = Number(fs.readFileSync(pidFile(name), 'utf8'));
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function launch(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  fs.mkdirSync(RUN_DIR, { recursive: true });
  const log = fs.openSync(path.join(RUN_DIR, `${name}.log`), 'a');
  const child = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', log, log] });
  child.unref();
  fs.writeFileSync(pidFile(name), String(child.pid));
  return child.pid!;
}

async function reachable(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Starts the dev server if nothing answers at the configured address. */
export async function ensureTemporal(config: Config, log: (s: string) => void): Promise<void> {
  try {
    await waitForTemporal(config.temporal.address, 1500);
    log(`Temporal server: already running at ${config.temporal.address}`);
    return;
  } catch {
    // Not running: start one below.
  }
  const m = /^(127\.0\.0\.1|localhost|0\.0\.0\.0):(\d+)$/.exec(config.temporal.address);
  if (!m) throw new Error(`no Temporal server answers at ${config.temporal.address}, and it is not a local address the demo could start one on`);
  const port = Number(m[2]);
  fs.mkdirSync(RUN_DIR, { recursive: true });
  const proc = spawnDevServer({ port, uiPort: port + 1000, headless: false, dbFile: path.join(RUN_DIR, 'temporal.db'), detached: true });
  proc.unref();
  fs.writeFileSync(pidFile('temporal'), String(proc.pid));
  log(`Temporal server: starting on ${config.temporal.address} (Web UI ${config.temporal.uiUrl}, data in .run/temporal.db)`);
  await waitForTemporal(config.temporal.address, 60_000);
}

/** Starts the local LLM server if the configured base URL does not answer (local provider only). */
export async function ensureLlmServer(config: Config, latency: { ttftMs: number; perTokenMs: number; outputTokens: number }, log: (s: string) => void): Promise<void> {
  if (config.llm.provider === 'anthropic') {
    log('LLM: the real Anthropic API (ANTHROPIC_API_KEY is set)');
    return;
  }
  const base = config.llm.baseURL!;
  if (await reachable(`${base}/_admin/health`)) {
    log(`LLM: local server already running at ${base}`);
    return;
  }
  const url = new URL(base);
  if (!['127.0.0.1', 'localhost'].includes(url.hostname)) throw new Error(`the LLM server at ${base} does not answer`);
  launch('llm-server', process.execPath, [path.join(ROOT, 'dist/src/testing/local-llm/main.js')], {
    ...process.env,
    LLM_SERVER_PORT: url.port || '80',
    LLM_TTFT_MS: String(latency.ttftMs),
    LLM_PER_TOKEN_MS: String(latency.perTokenMs),
    LLM_OUTPUT_TOKENS: String(latency.outputTokens),
  });
  log(`LLM: starting the local Anthropic-compatible server at ${base} (~${((latency.ttftMs + latency.perTokenMs * latency.outputTokens) / 1000).toFixed(1)} s per call)`);
  const deadline = Date.now() + 30_000;
  while (!(await reachable(`${base}/_admin/health`))) {
    if (Date.now() > deadline) throw new Error('the local LLM server did not start; see .run/llm-server.log');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The demo worker's Prometheus port when METRICS_PORT is not set, and how many ports after it are tried. */
export const DEFAULT_METRICS_PORT = 9464;
const METRICS_PORT_TRIES = 16;

/** Whether a server can listen on `port` on every interface (where the worker's exporter binds). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * The metrics port of the worker the demo starts. METRICS_PORT when set (0: no metrics), and it
 * must be free: a worker whose exporter cannot bind exits, so this says why before it starts.
 * Unset: 9464, or the next free port when another worker (another clone's demo, say) holds it;
 * none when 16 in a row are taken: the worker runs without metrics rather than not at all.
 */
export async function metricsPortFor(env: NodeJS.ProcessEnv, first = DEFAULT_METRICS_PORT): Promise<{ port?: number; note?: string }> {
  const set = env.METRICS_PORT?.trim();
  if (set) {
    const port = /^\d+$/.test(set) ? Number(set) : NaN;
    if (port === 0) return {};
    if (!(port <= 65_535)) throw new Error(`METRICS_PORT must be a port number (1-65535) or 0 for no metrics, not "${set}"`);
    if (!(await portFree(port))) throw new Error(`METRICS_PORT ${port} is in use (another worker?): set METRICS_PORT to a free port, or to 0 for no metrics`);
    return { port };
  }
  for (let port = first; port < first + METRICS_PORT_TRIES; port++) {
    if (await portFree(port)) return { port, note: port === first ? undefined : `${first} is in use` };
  }
  return { note: `ports ${first}-${first + METRICS_PORT_TRIES - 1} are in use: no metrics` };
}

/** Starts a worker unless one started by this script is alive, then waits until it polls. */
export async function ensureWorker(config: Config, log: (s: string) => void): Promise<void> {
  if (isRunning('worker')) {
    log('worker: already running (.run/worker.pid)');
  } else {
    const { port, note } = await metricsPortFor(process.env);
    launch('worker', process.execPath, [path.join(ROOT, 'dist/src/worker/main.js')], { ...process.env, METRICS_PORT: String(port ?? 0) });
    const metrics = port ? `metrics on :${port}/metrics` : 'no metrics';
    log(`worker: starting (log in .run/worker.log, ${metrics}${note ? `; ${note}` : ''})`);
  }
  const connection = await Connection.connect(config.temporal.connection);
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const queues = [config.temporal.taskQueue, llmTaskQueue(config.temporal.taskQueue)];
      const polled = await Promise.all(
        queues.map(async (name) => {
          const r = await connection.workflowService.describeTaskQueue({
            namespace: config.temporal.namespace,
            taskQueue: { name },
            taskQueueType: name === queues[0] ? 1 : 2,
          });
          return (r.pollers ?? []).some((p) => Date.now() - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < 20_000);
        }),
      );
      if (polled.every(Boolean)) return;
      if (!isRunning('worker')) throw new Error('the worker exited; see .run/worker.log');
      if (Date.now() > deadline) throw new Error('the worker did not start polling within 2 minutes; see .run/worker.log');
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await connection.close();
  }
}

/** Stops every process this script started. */
export function stopAll(log: (s: string) => void): void {
  for (const name of ['worker', 'llm-server', 'temporal']) {
    const file = pidFile(name);
    if (!fs.existsSync(file)) continue;
    const pid = Number(fs.readFileSync(file, 'utf8'));
    try {
      process.kill(-pid, 'SIGTERM');
      log(`stopped ${name} (pid ${pid})`);
    } catch {
      try {
        process.kill(pid, 'SIGTERM');
        log(`stopped ${name} (pid ${pid})`);
      } catch {
        log(`${name} was not running`);
      }
    }
    fs.rmSync(file, { force: true });
  }
}
