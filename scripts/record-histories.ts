/**
 * `npm run histories:record`: runs every scenario in src/core/history-scenarios.ts on a fresh dev
 * server (with the local LLM server and the real workers) and saves each history as JSON under
 * test/histories/, serialised with the SDK's historyToJSON (JSON.stringify does not round-trip).
 * Re-record after an intentional, versioned workflow change (see README, "Replay testing").
 */
import fs from 'node:fs';
import { splitQueues } from '../src/client';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { HISTORY_SCENARIOS, LIMITER_HISTORY } from '../src/core/history-scenarios';
import { TemporalAdmission } from '../src/llm/admission';
import { createAnthropicClient } from '../src/llm/anthropic';
import { startLocalLlmServer, type FaultRule } from '../src/testing';
import { createWorkers } from '../src/worker/create-workers';
import { ROOT, freePort, spawnDevServer, waitForTemporal } from './dev-server';

/** `--only a,b`: write only these histories (the others stay as recorded, still covering older code). */
const ONLY = process.argv.includes('--only') ? new Set(process.argv[process.argv.indexOf('--only') + 1]?.split(',') ?? []) : undefined;

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const port = await freePort();
  const server = spawnDevServer({ port });
  const address = `127.0.0.1:${port}`;
  const llm = await startLocalLlmServer({ ttftMs: 20, perTokenMs: 0, outputTokens: 8 });
  const outDir = path.join(ROOT, 'test/histories');
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'record-runs-'));
  try {
    await waitForTemporal(address);
    const native = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const taskQueue = 'record-histories';
    const workers = await createWorkers({
      connection: native,
      namespace: 'default',
      taskQueue,
      deps: {
        anthropic: createAnthropicClient({
          provider: 'local',
          apiKey: 'record-key',
          baseURL: llm.url,
          model: 'claude-sonnet-4-6',
          maxTokens: 256,
          maxConcurrent: 50,
          rpm: 0,
          requestTimeoutMs: 30_000,
        }),
        defaults: { model: 'claude-sonnet-4-6', maxTokens: 256 },
        runsDir,
        documentRoots: [path.join(ROOT, 'examples/docs')],
        documentsDir: path.join(ROOT, 'examples/docs'),
        // Every call goes through the limiter, so its history (updates, signals) is recorded too.
        admission: new TemporalAdmission(new Client({ connection: native }), taskQueue, { '*': { itpm: 1_000_000, adaptiveMax: 100 } }),
      },
      llmMaxConcurrent: 50,
      llmRpm: 0,
      heartbeatThrottleMs: 500,
      limiter: true,
    });
    const running = Promise.all(workers.map((w) => w.run()));
    fs.mkdirSync(outDir, { recursive: true });
    for (const s of HISTORY_SCENARIOS) {
      llm.reset();
      llm.setFaults((s.faults ?? []) as FaultRule[]);
      const handle = await client.workflow.start(s.workflowType, { taskQueue, workflowId: `history-${s.name}`, args: [{ ...splitQueues(taskQueue), ...(s.input as object) }] });
      if (s.cancelAfterMs) {
        await new Promise((r) => setTimeout(r, s.cancelAfterMs));
        await handle.cancel();
      }
      await handle.result().catch(() => undefined);
      const history = await handle.fetchHistory();
      const file = path.join(outDir, `${s.name}.json`);
      if (ONLY && !ONLY.has(s.name)) continue;
      fs.writeFileSync(file, `${historyToJSON(history)}\n`);
      console.log(`recorded ${s.workflowType} (${s.name}): ${history.events?.length ?? 0} events → ${path.relative(ROOT, file)}`);
    }
    const limiter = await client.workflow.getHandle(LIMITER_HISTORY.workflowId).fetchHistory();
    if (!ONLY || ONLY.has(LIMITER_HISTORY.name)) fs.writeFileSync(path.join(outDir, `${LIMITER_HISTORY.name}.json`), `${historyToJSON(limiter)}\n`);
    console.log(`recorded llmLimiter: ${limiter.events?.length ?? 0} events`);
    workers.forEach((w) => w.shutdown());
    await running;
    await native.close();
    await connection.close();
  } finally {
    await llm.close();
    server.kill('SIGTERM');
    fs.rmSync(runsDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`histories:record: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
