/**
 * `npm run worker`: runs the workflow, LLM and tool workers against the configured Temporal
 * server. Logs are structured (JSON lines by default) through Temporal's logger, so activity logs
 * carry workflow and activity ids; Prometheus metrics (the SDK's and the project's) are served on
 * METRICS_PORT. SIGINT/SIGTERM shut it down cleanly (the SDK's Runtime handles the signals).
 */
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString, type LogEntry } from '@temporalio/worker';
import { loadConfig, type Config } from '../config';
import { buildDataConverter } from '../data/data-converter';
import { llmTaskQueue } from '../core/names';
import { createWorkers } from './create-workers';
import { buildActivityDeps } from './deps';
import { prebuiltWorkflowBundle } from './prebuilt-bundle';

/** One JSON object per line: easy to ship to any log system. */
function jsonLine(entry: LogEntry): void {
  const { timestampNanos, level, message, meta } = entry;
  const line = JSON.stringify({ ts: new Date(Number(timestampNanos / 1_000_000n)).toISOString(), level, message, ...meta });
  (level === 'ERROR' || level === 'WARN' ? process.stderr : process.stdout).write(`${line}\n`);
}

/** Installs the process-wide runtime: logger, log level, metrics endpoint. */
function installRuntime(config: Config): void {
  Runtime.install({
    logger: new DefaultLogger(config.logLevel, config.logFormat === 'json' ? jsonLine : undefined),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: config.logLevel === 'TRACE' || config.logLevel === 'DEBUG' ? 'INFO' : 'WARN' }), forward: {} },
      ...(config.metricsPort > 0 ? { metrics: { prometheus: { bindAddress: `0.0.0.0:${config.metricsPort}` } } } : {}),
    },
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  installRuntime(config);
  const connection = await NativeConnection.connect(config.temporal.connection).catch((err: unknown) => {
    throw new Error(
      `cannot reach the Temporal server at ${config.temporal.address} (${err instanceof Error ? err.message : String(err)}); start one with \`npm run server\` or set TEMPORAL_ADDRESS`,
    );
  });
  try {
    const roles = config.worker.roles;
    const dataConverter = buildDataConverter(config.payloads);
    const built = buildActivityDeps(config, {
      connection,
      namespace: config.temporal.namespace,
      llmTaskQueue: llmTaskQueue(config.temporal.taskQueue),
      limiterBaseQueue: config.temporal.taskQueue,
      dataConverter,
      llm: roles.includes('llm'),
    });
    const workers = await createWorkers({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      deps: built.deps,
      llmMaxConcurrent: config.llm.maxConcurrent,
      llmRpm: config.llm.rpm,
      llmRpmWindowMs: config.limitWindowMs,
      roles,
      limiter: built.admission !== undefined,
      toolsMaxConcurrent: config.worker.toolsMaxConcurrent,
      heartbeatThrottleMs: config.worker.heartbeatThrottleMs,
      eagerActivitySlots: config.worker.eagerActivitySlots,
      dataConverter,
      workflowBundle: config.worker.workflowBundlePath ? { codePath: config.worker.workflowBundlePath } : prebuiltWorkflowBundle(),
    });
    const target = config.llm.provider === 'anthropic' ? 'the Anthropic API' : `the local LLM server at ${config.llm.baseURL}`;
    console.log(
      `worker: task queue "${config.temporal.taskQueue}" on ${config.temporal.address} (${roles.join(' + ')}), LLM calls to ${target}, ` +
        `max ${config.llm.maxConcurrent} concurrent${config.llm.rpm ? `, ${config.llm.rpm} requests/min` : ''}` +
        (config.metricsPort > 0 ? `, metrics on :${config.metricsPort}/metrics` : ''),
    );
    await Promise.all(workers.map((w) => w.run()));
    await built.close();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
