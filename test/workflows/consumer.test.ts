/**
 * The consumer example (examples/consumer) against the packed package, as a user gets it: `npm
 * pack`, install the tarball in a folder of its own, `tsc` there (wrong input types must fail to
 * compile: src/type-checks.ts holds them under @ts-expect-error), then its plain-JS worker with
 * AgentsPlugin on its own task queue and its typed client, on the dev server and the local LLM server.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startLocalLlmServer, type LocalLlmServer } from '../../src/testing';
import { temporalAddress } from '../helpers/harness';

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('the consumer example on the packed package', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-'));
  const app = path.join(dir, 'consumer');
  let tarball: string;
  let llm: LocalLlmServer;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    const packed = await exec(NPM, ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(dir, path.basename(info[0].filename));
    fs.writeFileSync(path.join(dir, 'files.json'), JSON.stringify(info[0].files.map((f) => f.path)));
    fs.cpSync(path.join(ROOT, 'examples/consumer'), app, { recursive: true, filter: (src) => !/node_modules|[\\/]dist([\\/]|$)/.test(src) });
    const pkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    pkg.dependencies['durable-agents'] = `file:${tarball}`;
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    await exec(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: app, maxBuffer: 64 * 1024 * 1024 });
    llm = await startLocalLlmServer({ ttftMs: 20, perTokenMs: 0, outputTokens: 12 });
  }, 600_000);

  afterAll(async () => {
    worker?.kill('SIGTERM');
    await llm?.close();
  });

  test('the tarball ships the compiled package only', () => {
    const files = JSON.parse(fs.readFileSync(path.join(dir, 'files.json'), 'utf8')) as string[];
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'dist/src/worker/index.js', 'dist/src/worker/index.d.ts', 'dist/src/workflows/index.js', 'dist/src/testing/index.js']),
    );
    expect(files.filter((f) => /^(test|bench|scripts|examples|src)\//.test(f) || f.startsWith('dist/scripts') || f.includes('histories'))).toEqual([]);
  });

  test('tsc compiles the example, and rejects wrong input types', async () => {
    await exec(NPM, ['run', 'build', '--silent'], { cwd: app });
    // The same file without its @ts-expect-error lines must not compile.
    const checks = path.join(app, 'src/type-checks.ts');
    const original = fs.readFileSync(checks, 'utf8');
    fs.writeFileSync(checks, original.replace(/\/\/ @ts-expect-error.*\n/g, ''));
    const failed = await exec(NPM, ['run', 'build', '--silent'], { cwd: app }).then(
      () => undefined,
      (e: { stdout: string }) => e.stdout,
    );
    fs.writeFileSync(checks, original);
    expect(failed).toBeDefined();
    expect(failed!.match(/type-checks\.ts\(\d+,\d+\): error TS\d+/g)).toHaveLength(3);
  });

  test('one plain-JS worker with AgentsPlugin runs fanOut and the project’s own workflow', async () => {
    const taskQueue = `consumer-${randomUUID()}`;
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress(),
      TASK_QUEUE: taskQueue,
      ANTHROPIC_BASE_URL: llm.url,
      ANTHROPIC_API_KEY: 'consumer-test-key',
      RUNS_DIR: path.join(dir, 'runs'),
      CACHE_DIR: path.join(dir, 'cache'),
      LLM_JOURNAL_DIR: path.join(dir, 'journal'),
      DOCUMENT_ROOTS: dir,
      LOG_LEVEL: 'WARN',
    };
    worker = spawn(process.execPath, ['worker.js'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    worker.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 120_000;
    while (!log.includes('worker ready')) {
      if (Date.now() > deadline || worker.exitCode !== null) throw new Error(`the example's worker did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const out = await exec(process.execPath, ['dist/client.js'], { cwd: app, env, timeout: 120_000 });
    const r = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
      fanOut: { name: string; state: string; output: string }[];
      draftAndJudge: { verdict: string; words: number; states: string[] };
    };
    expect(r.fanOut.map((x) => [x.name, x.state])).toEqual([
      ['acme', 'succeeded'],
      ['globex', 'succeeded'],
    ]);
    expect(r.fanOut[0].output).toContain('Research Acme');
    expect(r.draftAndJudge.states).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(r.draftAndJudge.verdict).toContain('Pick the better draft');
    expect(r.draftAndJudge.words).toBe(r.draftAndJudge.verdict.split(/\s+/).filter(Boolean).length);
    expect(llm.stats().calls).toBe(5);
  });
});
