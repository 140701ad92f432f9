/**
 * How this project bundles its workflows, everywhere it does (the build's prebuilt bundle, a
 * worker without one, the bench): the SDK's bundler with two things left out that the workflows
 * never use and every workflow thread would otherwise hold.
 * - zod's locale index: 40-odd translations of its error messages, 0.4 MB of the 1.8 MB of code.
 *   Workflow-side validation uses zod's English messages, which zod loads on its own.
 * - The sources inside the inline source map (`sourcesContent`, 2 MB): only the stack trace
 *   query's `showStackTraceSources` reads them, and no worker here turns it on. Stack traces keep
 *   their file, line and column.
 */
import path from 'node:path';
import { bundleWorkflowCode, type BundleOptions, type Logger } from '@temporalio/worker';

/** zod's locale index, CommonJS and ESM (bundling compiled code picks the first, TypeScript sources the second). */
const ZOD_LOCALES = ['index.cjs', 'index.js'].map((f) => path.join(path.dirname(require.resolve('zod')), 'v4', 'locales', f));

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/** The webpack changes above, on top of the SDK's configuration. */
export function leanWorkflowBundle(config: WebpackConfig): WebpackConfig {
  const alias = config.resolve?.alias;
  const dropped = ZOD_LOCALES.map((name) => ({ name, alias: false as const }));
  const lean = Array.isArray(alias) ? [...alias, ...dropped] : { ...alias, ...Object.fromEntries(dropped.map((d) => [d.name, false as const])) };
  return { ...config, devtool: 'inline-nosources-source-map', resolve: { ...config.resolve, alias: lean } };
}

/** Bundler options with the changes above, after the options' own webpackConfigHook (if any). */
export function withLeanBundle(options: BundleOptions): BundleOptions {
  const own = options.webpackConfigHook;
  return { ...options, webpackConfigHook: (config) => leanWorkflowBundle(own ? own(config) : config) };
}

/** Bundles the workflows at `workflowsPath` as the workers of this project load them. */
export async function bundleWorkflows(workflowsPath: string, logger?: Logger): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode(withLeanBundle({ workflowsPath, logger }));
  return { code };
}
