/**
 * One real Temporal dev server for the whole test run (in-memory, headless, free port), and the
 * workflow code bundled once, as the workers bundle it (src/worker/bundle.ts). Test files find both through environment variables.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, freePort, spawnDevServer, waitForTemporal } from '../../scripts/dev-server';
import { bundleWorkflows } from '../../src/worker/bundle';
import { WORKFLOWS_PATH } from '../../src/worker/create-workers';

export default async function globalSetup(): Promise<void> {
  const port = await freePort();
  const proc = spawnDevServer({ port });
  (globalThis as Record<string, unknown>).__TEMPORAL_DEV_SERVER__ = proc;
  const address = `127.0.0.1:${port}`;
  const [, bundle] = await Promise.all([waitForTemporal(address), bundleWorkflows(WORKFLOWS_PATH, quietLogger)]);
  const dir = path.join(ROOT, '.tmp');
  fs.mkdirSync(dir, { recursive: true });
  const codePath = path.join(dir, `workflow-bundle-${process.pid}.js`);
  fs.writeFileSync(codePath, bundle.code);
  process.env.TEST_TEMPORAL_ADDRESS = address;
  process.env.TEST_WORKFLOW_BUNDLE = codePath;
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };
