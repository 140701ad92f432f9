/**
 * Case `startup`: what a user waits for before the CLI does anything. With a running worker and
 * the local LLM server, the time from spawning `fanout <tasks.json> --json` to the first request
 * at the LLM server (its `receivedAt`) and to the CLI's exit, for the compiled CLI
 * (`node dist/src/cli/main.js`, what `npm run client` runs) and the TypeScript sources through tsx
 * (`tsx src/cli/main.ts`, what it ran before the build), interleaved, medians. `--help` → exit
 * beside it: process start and module loading alone. The CLI's CPU is exact: the bench's
 * waited-for children's CPU (/proc/self/stat) across a run in which only the CLI exits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../scripts/dev-server';
import { JS } from '../lib/build';
import { cpuDelta, type CpuUse, TSX, type WorkerHandle } from '../lib/env';
import { median, ms, ratio, verdict, type Cell } from '../lib/format';
import { exitedChildrenCpuSeconds, sleep, start, stop } from '../lib/procs';
import { fanOutTasks } from '../lib/tasks';
import { type Bench } from '../lib/measure';
import { type CaseDef, DEFAULT_WORKER, foreign, L0, type Target } from './common';

/** Tasks of the measured fanout (L = 0: the run itself takes a few tens of ms). */
const N = 5;

interface Cli {
  id: 'compiled' | 'tsx';
  /** How it is shown. */
  command: string;
  cmd: string;
  args: string[];
}

const CLIS: Cli[] = [
  { id: 'compiled', command: 'node dist/src/cli/main.js', cmd: process.execPath, args: [path.relative(ROOT, JS.cli)] },
  { id: 'tsx', command: 'tsx src/cli/main.ts', cmd: TSX, args: ['src/cli/main.ts'] },
];

/** One CLI process: spawn → first LLM request (fanout only) and spawn → exit. */
interface StartupRun {
  cli: Cli['id'];
  kind: 'help' | 'fanout';
  exitMs: number;
  firstRequestMs?: number;
  calls?: number;
  /** CPU seconds of the CLI process (tsx and its node child together). */
  cliCpuS: number;
  cpu: CpuUse;
  error?: string;
}

async function runCli(b: Bench, w: WorkerHandle, cli: Cli, kind: StartupRun['kind'], tasksFile: string, seq: number): Promise<StartupRun> {
  await b.env.llm.waitIdle();
  await b.quiet();
  await b.env.llm.prepare(L0);
  const logFile = path.join(b.env.tmpDir, `startup-${cli.id}-${kind}-${seq}.log`);
  const args = [...cli.args, ...(kind === 'help' ? ['--help'] : ['fanout', tasksFile, '--json'])];
  const env = { ...b.env.baseEnv(), TEMPORAL_TASK_QUEUE: w.taskQueue };
  const c0 = b.env.cpu();
  const x0 = exitedChildrenCpuSeconds();
  const t0 = Date.now();
  const p = start(`cli ${cli.id}`, cli.cmd, args, { cwd: ROOT, logFile, env });
  const code = await Promise.race([p.exited, sleep(120_000).then(() => 'timeout' as const)]);
  const exitMs = Date.now() - t0;
  if (code === 'timeout') await stop(p);
  const cliCpuS = exitedChildrenCpuSeconds() - x0;
  const run: StartupRun = { cli: cli.id, kind, exitMs, cliCpuS, cpu: cpuDelta(c0, b.env.cpu(), cliCpuS) };
  if (kind === 'fanout') {
    const s = await b.env.llm.stats();
    run.calls = s.calls;
    if (s.requests.length) run.firstRequestMs = Math.min(...s.requests.map((r) => r.receivedAt)) - t0;
  }
  // 0 = done with every task succeeded (3 = some failed, 1 = run failed or server unreachable).
  if (code !== 0 || (kind === 'fanout' && run.calls !== N)) {
    run.error = `exit ${String(code)}, ${run.calls ?? 0} LLM calls: ${fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' ').slice(0, 300)}`;
  }
  b.log(
    `  ${cli.command} ${kind === 'help' ? '--help' : `fanout (N=${N}) --json`}: ` +
      (run.error
        ? `ERROR ${run.error}`
        : `${run.firstRequestMs !== undefined ? `first LLM request after ${ms(run.firstRequestMs)}, ` : ''}exit after ${ms(exitMs)}, CLI CPU ${ms(cliCpuS * 1000)}`),
  );
  return run;
}

/** "1.23 s (1.20 s–1.31 s)" over the runs that succeeded. */
function range(xs: number[]): string {
  if (!xs.length) return '—';
  return xs.length > 1 ? `${ms(median(xs))} (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})` : ms(xs[0]);
}

export const startup: CaseDef = {
  id: 'startup',
  title: `13. CLI start-up: spawn → first LLM request and → exit, compiled vs tsx (fanout N = ${N}, L = 0, worker running)`,
  inQuick: true,
  async run(b) {
    const reps = b.quick ? 3 : 5;
    const w = await b.worker(DEFAULT_WORKER);
    const tasksFile = path.join(b.env.tmpDir, 'startup-tasks.json');
    fs.writeFileSync(tasksFile, JSON.stringify(fanOutTasks(N)));
    // One untimed run of each first: the file cache warm for both, tsx's transform cache filled.
    for (const cli of CLIS) await runCli(b, w, cli, 'help', tasksFile, 0);
    const runs: StartupRun[] = [];
    let seq = 0;
    for (let i = 0; i < reps; i++) {
      // Interleaved, alternating which goes first.
      const order = i % 2 ? [...CLIS].reverse() : CLIS;
      for (const cli of order) runs.push(await runCli(b, w, cli, 'help', tasksFile, ++seq));
      for (const cli of order) runs.push(await runCli(b, w, cli, 'fanout', tasksFile, ++seq));
    }
    const ok = (cli: Cli['id'], kind: StartupRun['kind']) => runs.filter((r) => r.cli === cli && r.kind === kind && !r.error);
    const med = (cli: Cli['id'], kind: StartupRun['kind'], f: (r: StartupRun) => number) => median(ok(cli, kind).map(f));
    const rows: Cell[][] = CLIS.map((cli) => [
      cli.command,
      range(ok(cli.id, 'help').map((r) => r.exitMs)),
      range(ok(cli.id, 'fanout').map((r) => r.firstRequestMs!)),
      range(ok(cli.id, 'fanout').map((r) => r.exitMs - r.firstRequestMs!)),
      range(ok(cli.id, 'fanout').map((r) => r.exitMs)),
      range(ok(cli.id, 'fanout').map((r) => r.cliCpuS * 1000)),
      `${ok(cli.id, 'fanout').length} of ${reps}`,
      foreign(runs.filter((r) => r.cli === cli.id)),
    ]);
    const r = (kind: StartupRun['kind'], f: (x: StartupRun) => number) => med('compiled', kind, f) / med('tsx', kind, f);
    rows.push([
      'compiled / tsx (medians)',
      ratio(r('help', (x) => x.exitMs)),
      ratio(r('fanout', (x) => x.firstRequestMs!)),
      ratio(r('fanout', (x) => x.exitMs - x.firstRequestMs!)),
      ratio(r('fanout', (x) => x.exitMs)),
      ratio(r('fanout', (x) => x.cliCpuS)),
      '',
      '',
    ]);
    const first = { compiled: med('compiled', 'fanout', (x) => x.firstRequestMs!), tsx: med('tsx', 'fanout', (x) => x.firstRequestMs!) };
    const met = Number.isFinite(first.compiled) && Number.isFinite(first.tsx) ? first.compiled <= first.tsx : undefined;
    const targets: Target[] = [
      {
        case: 'startup',
        target: 'CLI spawn → first LLM request: compiled ≤ tsx',
        measured: `${ms(first.compiled)} vs ${ms(first.tsx)} = ${ratio(first.compiled / first.tsx)}`,
        met,
      },
    ];
    const errors = runs.filter((x) => x.error);
    return {
      tables: [
        {
          title: startup.title,
          head: [
            'CLI',
            'spawn → exit, --help (process start + module load)',
            'spawn → first LLM request',
            'first LLM request → exit',
            'spawn → exit (client-observed total)',
            'CLI CPU (fanout run)',
            'fanout runs ok',
            'foreign CPU',
          ],
          rows,
          notes: [
            `median (min–max) of ${reps} runs each, interleaved, after one untimed --help of each; each run waits for a quiet machine first, the worker (${DEFAULT_WORKER.maxConcurrent} LLM slots) already running and warm. ` +
              `The fanout command is \`<CLI> fanout <${N} tasks>.json --json\` against the bench's worker task queue; npm's own start-up (\`npm run client --\` adds about 0.2 s here) is not included.`,
            "first LLM request = the local LLM server's receivedAt of the run's first request (same machine clock): CLI start-up, connecting, the start RPC, the first workflow task, activity dispatch. --help → exit is node start + loading the CLI's modules (and, for tsx, its loader and transform cache).",
            `verdict: ${verdict(met)} (compiled ≤ tsx)${errors.length ? `; ${errors.length} failed runs: ${errors[0].error}` : ''}`,
          ],
        },
      ],
      targets,
      data: { n: N, reps, runs },
    };
  },
};
