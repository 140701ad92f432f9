/**
 * `npm run worker`: runs the workflow and LLM workers against the configured Temporal server.
 * SIGINT/SIGTERM shut it down cleanly (the SDK's Runtime handles the signals): in-flight
 * activities finish or are handed back, then the process exits.
 */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from './config';
import { buildDataConverter } from './data/data-converter';
import { createAnthropicClient } from './llm/client';
import { createWorkers } from './workers';

async function main(): Promise<void> {
  const config = loadConfig();
  const connection = await NativeConnection.connect({ address: config.temporal.address }).catch((err: unknown) => {
    throw new Error(
      `cannot reach the Temporal server at ${config.temporal.address} (${err instanceof Error ? err.message : String(err)}); start one with \`npm run server\` or set TEMPORAL_ADDRESS`,
    );
  });
  try {
    const roles = config.worker.roles;
    const workers = await createWorkers({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      deps: { anthropic: createAnthropicClient(config.llm), defaults: { model: config.llm.model, maxTokens: config.llm.maxTokens }, runsDir: config.runsDir },
      toolsMaxConcurrent: config.worker.toolsMaxConcurrent,
      dataConverter: buildDataConverter(config.payloads),
      workflowBundle: config.worker.workflowBundlePath ? { codePath: config.worker.workflowBundlePath } : undefined,
      llmMaxConcurrent: config.llm.maxConcurrent,
      llmRpm: config.llm.rpm,
      roles,
    });
    const target = config.llm.provider === 'anthropic' ? 'the Anthropic API' : `the local LLM server at ${config.llm.baseURL}`;
    console.log(
      `worker: task queue "${config.temporal.taskQueue}" on ${config.temporal.address} (${roles.join(' + ')}), LLM calls to ${target}, ` +
        `max ${config.llm.maxConcurrent} concurrent${config.llm.rpm ? `, ${config.llm.rpm} requests/min` : ''}`,
    );
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
