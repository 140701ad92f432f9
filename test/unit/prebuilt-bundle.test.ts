/** The worker loads the build's workflow bundle only when it is not older than the compiled code it bundles. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prebuiltWorkflowBundle } from '../../src/worker/prebuilt-bundle';

describe('prebuiltWorkflowBundle', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prebuilt-'));
  const compiled = path.join(dir, 'src');
  const bundle = path.join(dir, 'workflow-bundle.js');
  const js = path.join(compiled, 'workflows', 'index.js');
  fs.mkdirSync(path.dirname(js), { recursive: true });
  fs.writeFileSync(js, '');
  const at = (file: string, s: number) => fs.utimesSync(file, s, s);

  test('no bundle: undefined (the worker bundles at start)', () => {
    expect(prebuiltWorkflowBundle(bundle, compiled)).toBeUndefined();
  });

  test('a bundle newer than every compiled file is used', () => {
    fs.writeFileSync(bundle, '');
    at(js, 1_000);
    at(bundle, 2_000);
    expect(prebuiltWorkflowBundle(bundle, compiled)).toEqual({ codePath: bundle });
  });

  test('a compiled file newer than the bundle (tsc without the bundling step): not used', () => {
    at(bundle, 2_000);
    at(js, 3_000);
    expect(prebuiltWorkflowBundle(bundle, compiled)).toBeUndefined();
  });
});
