/**
 * `npm run demo`: the seed's scenario on the embedded defaults. Starts whatever is not running
 * (dev server with Web UI, local LLM server at ~3 s per call, a worker), then runs the
 * competitive-intelligence workflow on 12 companies (research → analysis per company → summary)
 * with live progress, and prints results, speedup, the report path and the Web UI link.
 * `npm run demo -- --agents`: each company's research is an agent searching and reading the
 * shipped corpus (examples/corpus) with the document tools, every call's text streamed live.
 * Everything stays up for inspection; `npm run down` stops it.
 */
import { loadConfig } from '../src/config';
import { connectClient } from '../src/cli/connect';
import { renderIntel } from '../src/cli/render';
import { startAndReport } from '../src/cli/run';
import { competitiveIntel } from '../src/workflows';
import { DEFAULT_COMPANIES } from '../src/core/companies';
import { ensureLlmServer, ensureTemporal, ensureWorker } from './stack';

const USAGE = 'usage: npm run demo [-- --agents]';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--agents');
  if (unknown.length) {
    console.error(`demo: unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.join(' ')}\n${USAGE}`);
    return 2;
  }
  const agents = args.includes('--agents');
  const config = loadConfig();
  const log = (s: string) => console.log(`· ${s}`);
  await ensureTemporal(config, log);
  await ensureLlmServer(config, { ttftMs: 1000, perTokenMs: 8, outputTokens: 250 }, log);
  await ensureWorker(config, log);
  const { client, connection } = await connectClient(config);
  try {
    console.log(
      `· running competitiveIntel on ${DEFAULT_COMPANIES.length} companies: research${agents ? ' (an agent per company, searching and reading the documents)' : ''} → analysis per company, then one comparative summary`,
    );
    // With agents the text of every turn and call streams in as it arrives.
    const input = { companies: [...DEFAULT_COMPANIES], ...(agents ? { agents: true, stream: true } : {}) };
    const code = await startAndReport({ client, config }, competitiveIntel, input, 'intel', { stream: agents }, renderIntel, undefined, {
      scenario: 'competitive-intel',
    });
    console.log('\nThe servers stay up so you can inspect the run; `npm run down` stops them.');
    return code === 3 ? 0 : code;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
