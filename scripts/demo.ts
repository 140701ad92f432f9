/**
 * `npm run demo`: the seed's scenario on the embedded defaults. Starts whatever is not running
 * (dev server with Web UI, local LLM server at ~3 s per call, a worker), fans out research on
 * 12 companies with live progress, and prints results, speedup and the Web UI link.
 * Everything stays up for inspection; `npm run down` stops it.
 */
import { loadConfig } from '../src/config';
import { connectClient } from '../src/cli/connect';
import { startAndReport } from '../src/cli/run';
import { DEFAULT_COMPANIES } from '../src/core/companies';
import { ensureLlmServer, ensureTemporal, ensureWorker } from './stack';

async function main(): Promise<number> {
  const config = loadConfig();
  const log = (s: string) => console.log(`· ${s}`);
  await ensureTemporal(config, log);
  await ensureLlmServer(config, { ttftMs: 1000, perTokenMs: 8, outputTokens: 250 }, log);
  await ensureWorker(config, log);
  const { client, connection } = await connectClient(config);
  try {
    const input = {
      tasks: DEFAULT_COMPANIES.map((c) => ({
        id: c.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
        name: c,
        system: 'You are a market research analyst. Be concise and factual.',
        prompt: `Research ${c}: products, market position, recent developments, strengths and weaknesses.`,
      })),
      maxConcurrent: 12,
    };
    const code = await startAndReport({ client, config }, 'fanOut', input, 'demo-fanout', {});
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
