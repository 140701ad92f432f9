/** The Python baseline's interpreter: a project venv (.tools/bench-venv) with the anthropic SDK, installed on first use. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/dev-server';

const run = promisify(execFile);

/** Pinned to a version the package index here serves (`pip download anthropic` finds it). */
export const ANTHROPIC_PY_VERSION = '2.14.0';
export const VENV = path.join(ROOT, '.tools', 'bench-venv');

/** Returns the venv's python, installing it when missing; throws with the reason when that fails. */
export async function ensurePythonBaseline(log: (s: string) => void): Promise<string> {
  const python = path.join(VENV, 'bin', 'python');
  const check = async () => {
    const { stdout } = await run(python, ['-c', 'import anthropic; print(anthropic.__version__)'], { timeout: 30_000 });
    return stdout.trim();
  };
  if (fs.existsSync(python)) {
    try {
      const v = await check();
      if (v === ANTHROPIC_PY_VERSION) return python;
    } catch {
      // broken or incomplete venv: install below
    }
  }
  log(`  python baseline: installing anthropic==${ANTHROPIC_PY_VERSION} into ${path.relative(ROOT, VENV)} (first use)...`);
  try {
    if (!fs.existsSync(python)) await run('python3', ['-m', 'venv', VENV], { timeout: 120_000 });
    await run(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `anthropic==${ANTHROPIC_PY_VERSION}`], { timeout: 300_000 });
    log(`  python baseline: anthropic ${await check()} installed`);
    return python;
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    const reason = (e.stderr?.trim().split('\n').pop() || e.message || String(err)).slice(0, 300);
    throw new Error(reason);
  }
}
