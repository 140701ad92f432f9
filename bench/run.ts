/**
 * `npm run bench [-- --quick] [-- --only overhead,dag]`: measures the executor on a real Temporal
 * dev server that it starts itself, real worker processes and the local LLM server in its own
 * process. It never asserts times: it prints one table per case plus the targets, and writes
 * everything to bench/results/<timestamp>.json. What it measures is the compiled JS (dist/, built
 * first when missing or stale), run with plain node; the runner itself runs on tsx. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, temporalBinary } from '../scripts/dev-server';
import { CASES, type CaseResult, LOCAL_ACTIVITIES, type Runner, SINGLE_QUEUE, type Shared, type Target } from './cases/index';
import { type Layout } from './lib/runwf';
import { compileBenchEntries, ensureBuilt } from './lib/build';
import { BenchEnv } from './lib/env';
import { renderTable, verdict, type TableData } from './lib/format';
import { Bench } from './lib/measure';
import { installCleanup, stopAll } from './lib/procs';

interface Args {
  quick: boolean;
  only?: string[];
  /** `--dynamic-config KEY=VALUE` (repeatable): passed to the dev server as --dynamic-config-value. */
  dynamicConfig: string[];
  /** `--variant LABEL=JSON` (repeatable): another runner at every overhead/ceiling point (layout 'single' unless the JSON says `"layout": "split"` or `"local"`; `"nodeArgs": [...]` are node flags of its worker; the rest is bench/worker-variant.ts options). */
  variants: Runner[];
  /** `--reps N`: repetitions of every repeated point. */
  reps?: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, dynamicConfig: [], variants: [] };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--quick') a.quick = true;
    else if (x === '--only' || x.startsWith('--only=')) {
      const v = x.includes('=') ? x.slice(x.indexOf('=') + 1) : argv[++i];
      if (!v) throw new Error('--only needs a list of cases');
      a.only = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    } else if (x === '--dynamic-config') {
      const v = argv[++i];
      if (!v || !v.includes('=')) throw new Error('--dynamic-config needs KEY=VALUE');
      a.dynamicConfig.push(v);
    } else if (x === '--reps') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error('--reps needs a whole number ≥ 1');
      a.reps = v;
    } else if (x === '--variant') {
      const v = argv[++i];
      const eq = v?.indexOf('=') ?? -1;
      if (!v || eq < 1) throw new Error('--variant needs LABEL=JSON');
      const { layout, nodeArgs, ...variant } = JSON.parse(v.slice(eq + 1)) as { layout?: Layout; nodeArgs?: string[] } & Record<string, unknown>;
      a.variants.push({ label: v.slice(0, eq), layout: layout ?? 'single', ...(nodeArgs ? { nodeArgs } : {}), ...(Object.keys(variant).length ? { variant } : {}) });
    } else if (x === '--help' || x === '-h') {
      console.log(
        `usage: npm run bench [-- --quick] [-- --only <case,...>] [-- --dynamic-config KEY=VALUE ...] [-- --reps N] [-- --variant 'LABEL={"layout":"single","workflow":{...}}' ...]\ncases: ${CASES.map((c) => `${c.id}${c.inQuick ? ' (quick)' : ''}`).join(', ')}`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${x} (try --help)`);
  }
  const unknown = (a.only ?? []).filter((id) => !CASES.some((c) => c.id === id));
  if (unknown.length) throw new Error(`unknown case ${unknown.join(', ')}; cases: ${CASES.map((c) => c.id).join(', ')}`);
  return a;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const t0 = Date.now();
  const log = (s: string) => console.log(s);
  let interrupted = false;
  installCleanup(() => {
    interrupted = true;
  });
  const cases = CASES.filter((c) => (args.only ? args.only.includes(c.id) : args.quick ? c.inQuick : true));
  log(
    `bench: ${args.quick ? '--quick, ' : ''}${args.dynamicConfig.length ? `dev server dynamic config ${args.dynamicConfig.join(' ')}, ` : ''}cases ${cases.map((c) => c.id).join(', ')}; ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );

  let temporalVersion = '?';
  try {
    temporalVersion = execFileSync(temporalBinary(), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as '?'
  }
  const results: Record<string, CaseResult | { error: string }> = {};
  const tables: TableData[] = [];
  const targets: Target[] = [];
  let env: BenchEnv | undefined;
  let bench: Bench | undefined;
  let failed = false;
  try {
    ensureBuilt(log);
    compileBenchEntries();
    env = await BenchEnv.create(
      log,
      args.dynamicConfig.flatMap((d) => ['--dynamic-config-value', d]),
    );
    bench = new Bench(env, args.quick, log, args.reps);
    const shared: Shared = { points: new Map(), runners: [SINGLE_QUEUE, LOCAL_ACTIVITIES, ...args.variants] };
    for (const c of cases) {
      if (interrupted) break;
      const ct = Date.now();
      log(`\n== ${c.title}`);
      try {
        const r = await c.run(bench, shared);
        results[c.id] = r;
        tables.push(...r.tables);
        targets.push(...r.targets);
        for (const t of r.tables) log(renderTable(t));
      } catch (err) {
        failed = true;
        if (interrupted) break;
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        results[c.id] = { error: message };
        log(`case ${c.id} failed: ${message}`);
      }
      log(`(${c.id}: ${((Date.now() - ct) / 1000).toFixed(1)} s)`);
    }
  } finally {
    await env?.close(failed).catch(() => undefined);
    await stopAll();
  }

  const totalS = (Date.now() - t0) / 1000;
  if (targets.length) {
    const summary: TableData = {
      title: 'Targets (reported, not asserted)',
      head: ['case', 'target', 'measured', 'met?'],
      rows: targets.map((t) => [t.case, t.target, t.measured, verdict(t.met)]),
    };
    tables.push(summary);
    log(renderTable(summary));
  }
  const quiet = bench?.quietStats;
  log(
    `\nbench finished in ${totalS.toFixed(1)} s${quiet ? ` (${quiet.waitedS.toFixed(0)} s of it waiting for a quiet machine; ${quiet.busyStarts} runs started on a busy one anyway)` : ''}`,
  );

  const outDir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        startedAt: started.toISOString(),
        durationS: totalS,
        args,
        machine: {
          cores: os.cpus().length,
          cpu: os.cpus()[0]?.model,
          memoryGb: Math.round(os.totalmem() / 1e9),
          loadAverageAtEnd: os.loadavg(),
          node: process.version,
          temporal: temporalVersion,
        },
        startup: env?.startupMs,
        quiet,
        targets,
        tables,
        cases: results,
      },
      null,
      1,
    ),
  );
  log(`results: ${path.relative(process.cwd(), file)}${failed && env ? `; logs kept in ${env.tmpDir}` : ''}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await stopAll();
    process.exit(1);
  },
);
