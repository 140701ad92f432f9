/** Starts `src/worker/main.ts` as its own OS process (a second "machine") and stops it. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** A running worker process and its captured output. */
export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  kill(): void;
}

/** Spawns a worker with the given environment and waits until it polls. */
export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  let out = '';
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'src/worker/main.ts')], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, WORKFLOW_BUNDLE: process.env.TEST_WORKFLOW_BUNDLE, ANTHROPIC_API_KEY: 'test-key', ...env },
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('worker: task queue')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`worker process did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output: () => out,
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
  };
}
