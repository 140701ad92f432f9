/** The workflow bundle as the workers load it: zod's locale index and the map's sources left out, positions kept. */
import type { BundleOptions } from '@temporalio/worker';
import { bundleWorkflows, leanWorkflowBundle } from '../../src/worker/bundle';
import { WORKFLOWS_PATH } from '../../src/worker/create-workers';
import { AgentsPlugin } from '../../src/worker/plugin';

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

const noop = () => undefined;
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

/** The inline source map of a bundle. */
function sourceMapOf(code: string): { sources: string[]; mappings: string; sourcesContent?: unknown[] } {
  const at = code.lastIndexOf('//# sourceMappingURL=data:application/json');
  const b64 = code.slice(code.indexOf('base64,', at) + 'base64,'.length).trim();
  return JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as { sources: string[]; mappings: string; sourcesContent?: unknown[] };
}

describe('the workflow bundle', () => {
  let code = '';
  beforeAll(async () => {
    ({ code } = await bundleWorkflows(WORKFLOWS_PATH, quiet));
  }, 60_000);

  test("zod's English messages are in, its locale index is not", () => {
    // Bundled from the TypeScript sources here, so zod's ESM files (.js); the build bundles its CommonJS ones (.cjs).
    const zodLocales = [...new Set(code.match(/"\.\/node_modules\/zod\/v4\/locales\/[^"]+"/g) ?? [])];
    expect(zodLocales).toEqual([expect.stringMatching(/locales\/en\.c?js"$/)]);
  });

  test('the inline source map keeps every source position but not the sources themselves', () => {
    const map = sourceMapOf(code);
    expect(map.sources.some((s) => s.includes('src/workflows/fan-out'))).toBe(true);
    expect(map.mappings.length).toBeGreaterThan(1000);
    expect((map.sourcesContent ?? []).filter((c) => c != null)).toHaveLength(0);
    // Smaller than the SDK's default bundle of the same workflows (5.1 MB when this was written).
    expect(code.length).toBeLessThan(3_000_000);
  });
});

describe('AgentsPlugin.configureBundler', () => {
  test("a user's own webpack hook runs first, then the package's changes", () => {
    const seen: string[] = [];
    const own = (c: WebpackConfig): WebpackConfig => {
      seen.push('own');
      return { ...c, devtool: 'source-map', resolve: { ...c.resolve, alias: { ...(c.resolve?.alias as object), mine$: false } } };
    };
    const options = new AgentsPlugin({ activities: 'none', env: {} }).configureBundler({ workflowsPath: WORKFLOWS_PATH, webpackConfigHook: own });
    const out = options.webpackConfigHook!({ resolve: { alias: { sdk$: false } } });
    expect(seen).toEqual(['own']);
    expect(out.devtool).toBe('inline-nosources-source-map');
    const alias = out.resolve?.alias as Record<string, unknown>;
    expect(Object.keys(alias)).toEqual(expect.arrayContaining(['sdk$', 'mine$']));
    expect(Object.keys(alias).some((k) => k.endsWith('index.cjs') && k.includes('locales'))).toBe(true);
    expect(leanWorkflowBundle({ resolve: { alias: [{ name: 'a', alias: false }] } }).resolve?.alias).toHaveLength(3);
  });
});
