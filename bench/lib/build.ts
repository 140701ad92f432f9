/**
 * The bench measures the compiled JS users run (`npm run worker` = `node dist/src/worker/main.js`):
 * before anything starts, `ensureBuilt` runs `npm run build` when `dist/` is missing or older than
 * the sources, and `compileBenchEntries` transpiles the bench's own child-process entry points
 * (the worker variant, the in-process baseline) to `dist/bench/` with the build's compiler
 * options, so their `../src/...` imports resolve to `dist/src/...` exactly as the build lays it out.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '../../scripts/dev-server';

/** Where `npm run build` writes (tsconfig.build.json: rootDir ".", outDir "dist"). */
export const DIST = path.join(ROOT, 'dist');

/** The compiled entry points the bench launches. */
export const JS = {
  worker: path.join(DIST, 'src/worker/main.js'),
  cli: path.join(DIST, 'src/cli/main.js'),
  llmServer: path.join(DIST, 'src/testing/local-llm/main.js'),
  workflows: path.join(DIST, 'src/workflows/index.js'),
  workerVariant: path.join(DIST, 'bench/worker-variant.js'),
  inProcess: path.join(DIST, 'bench/baselines/in-process.js'),
};

/** The bench files run as their own processes; their bench-local imports are transpiled with them. */
const BENCH_ENTRIES = ['bench/worker-variant.ts', 'bench/baselines/in-process.ts'];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const mtime = (p: string) => fs.statSync(p).mtimeMs;

/** Why dist/ needs a build (the first source newer than its output), or undefined when it is current. */
export function staleReason(): string | undefined {
  let oldestOut = Infinity;
  for (const dir of ['src', 'scripts']) {
    for (const src of tsFiles(path.join(ROOT, dir))) {
      const rel = path.relative(ROOT, src);
      const out = path.join(DIST, rel.replace(/\.ts$/, '.js'));
      if (!fs.existsSync(out)) return `${path.relative(ROOT, out)} is missing`;
      const t = mtime(out);
      if (mtime(src) > t) return `${rel} is newer than ${path.relative(ROOT, out)}`;
      oldestOut = Math.min(oldestOut, t);
    }
  }
  for (const f of ['tsconfig.json', 'tsconfig.build.json']) if (mtime(path.join(ROOT, f)) > oldestOut) return `${f} is newer than dist/`;
  return undefined;
}

/** Builds dist/ (`npm run build`) when it is missing or older than the sources, and says so. */
export function ensureBuilt(log: (s: string) => void): void {
  const why = staleReason();
  if (!why) {
    log('build: dist/ is up to date with src/ and scripts/');
    return;
  }
  log(`build: ${why}; running npm run build ...`);
  const t0 = Date.now();
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message;
    // tsc emits JS despite type errors (noEmitOnError is off): with dist/ now current, that JS is
    // what `npm run worker` would run, so the bench goes on and says so; anything else stops it.
    const still = staleReason();
    if (still) throw new Error(`npm run build failed and dist/ is still stale (${still}):\n${output.slice(-3000)}`);
    log(
      `build: WARNING npm run build reported errors (JS emitted anyway; measuring that):\n${output
        .split('\n')
        .slice(0, 10)
        .map((l) => `  ${l}`)
        .join('\n')}`,
    );
  }
  log(`build: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** The build's compiler options (tsconfig.build.json), for transpiling the bench entries the same way. */
function buildOptions(): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error('cannot read tsconfig.build.json');
  // One file at a time, JS only.
  return { ...parsed.options, declaration: false, declarationMap: false, sourceMap: false };
}

/**
 * Transpiles the bench's child-process entries (and the bench files they import) to dist/bench/,
 * next to dist/src/ (run after ensureBuilt). Type errors are `npm run typecheck`'s business; this
 * only strips types. Each file is written to a temporary name and renamed, so a process starting
 * meanwhile never loads half a file.
 */
export function compileBenchEntries(): void {
  const options = buildOptions();
  const queue = BENCH_ENTRIES.map((f) => path.join(ROOT, f));
  const done = new Set<string>();
  const benchDir = path.join(ROOT, 'bench') + path.sep;
  while (queue.length) {
    const file = queue.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const source = fs.readFileSync(file, 'utf8');
    for (const imp of ts.preProcessFile(source, true, true).importedFiles) {
      if (!imp.fileName.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), imp.fileName);
      // Imports of src/ resolve to dist/src/ (built by npm run build); bench files are transpiled here.
      if (target.startsWith(benchDir)) queue.push(fs.existsSync(`${target}.ts`) ? `${target}.ts` : path.join(target, 'index.ts'));
    }
    const out = path.join(DIST, path.relative(ROOT, file).replace(/\.ts$/, '.js'));
    const { outputText } = ts.transpileModule(source, { compilerOptions: options, fileName: file });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, outputText);
    fs.renameSync(tmp, out);
  }
}
