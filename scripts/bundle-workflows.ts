/**
 * The last step of `npm run build`: bundles the compiled workflows (dist/src/workflows) once, into
 * dist/workflow-bundle.js, which `npm run worker` loads instead of bundling at every start
 * (src/worker/prebuilt-bundle.ts).
 */
import fs from 'node:fs';
import { DefaultLogger } from '@temporalio/worker';
import { bundleWorkflows } from '../src/worker/bundle';
import { PREBUILT_BUNDLE_PATH } from '../src/worker/prebuilt-bundle';

async function main(): Promise<void> {
  const { code } = await bundleWorkflows(require.resolve('../src/workflows'), new DefaultLogger('WARN'));
  fs.writeFileSync(PREBUILT_BUNDLE_PATH, code);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
