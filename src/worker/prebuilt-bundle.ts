/**
 * The workflow bundle `npm run build` writes (`dist/workflow-bundle.js`, scripts/bundle-workflows.ts).
 * A worker that loads it does not run webpack at start: about 140 MB less resident memory for the
 * life of the process and a faster start (README Performance). It is used only when it is at least
 * as new as every compiled file under dist/src, so a build that skipped the bundling step (a plain
 * `tsc`) falls back to bundling at start instead of running stale workflow code.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Where the build writes the bundle: dist/workflow-bundle.js, beside dist/src (not in the npm package). */
export const PREBUILT_BUNDLE_PATH = path.resolve(__dirname, '..', '..', 'workflow-bundle.js');

/** The newest modification time of the .js files under dir. */
function newestJs(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestJs(p));
    else if (e.name.endsWith('.js')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** The prebuilt bundle when it exists and is not older than the code it bundles; else undefined (bundle at start). */
export function prebuiltWorkflowBundle(bundlePath = PREBUILT_BUNDLE_PATH, compiledRoot = path.resolve(__dirname, '..')): { codePath: string } | undefined {
  let bundled: number;
  try {
    bundled = fs.statSync(bundlePath).mtimeMs;
  } catch {
    return undefined;
  }
  return bundled >= newestJs(compiledRoot) ? { codePath: bundlePath } : undefined;
}
