/**
 * `npm run worker`: runs the workflow, LLM and tool workers against the configured Temporal
 * server. Logs are structured (JSON lines by default) through Temporal's logger, so activity logs
 * carry workflow and activity ids; Prometheus metrics (the SDK's and the project's) are served on
 * METRICS_PORT. SIGINT/SIGTERM shut it down cleanly (the SDK's Runtime handles the signals).
 */
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString, type LogEntry } from '@temporalio/worker';
import { loadConfig, type Config } from '../config';
import { buildDataConverter } from '../data/data-converter';
import { Client } from '@temporalio/client';
import { TemporalAdmission } from '../llm/admission';
import { FileCacheStore, ResponseCache } from '../llm/cache';
import { FileAnswerJournal } from '../llm/journal';
import { FlowController } from '../llm/flow';
import { FleetSize } from '../llm/fleet';
import { llmTaskQueue } from '../core/names';
import { FileStorageDriver } from '../data/file-storage-driver';
import { LatencyTracker } from '../llm/hedging';
import { createAnthropicClient } from '../llm/anthropic';
import { createLlmMetrics } from '../metrics';
import { createWorkers } from './create-workers';

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

/** Runs `prune` now and every `everyMs`, saying what it removed (when `removed` says how) and what failed. */
function keepPruned(what: string, everyMs: number, prune: () => Promise<number>, removed?: (n: number) => string): void {
  const once = () =>
    prune().then(
      (n) => n > 0 && removed && console.log(`worker: pruned ${removed(n)}`),
      (err: unknown) => console.error(`worker: could not prune ${what}: ${err instanceof Error ? err.message : String(err)}`),
    );
  void once();
  setInterval(() => void once(), everyMs).unref();
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
    // Folders the LLM workers write to would grow forever: each is pruned at start and then periodically.
    const cacheStore = new FileCacheStore(config.cacheDir);
    const journal = new FileAnswerJournal(config.journalDir);
    const payloadStore = new FileStorageDriver(config.payloads.storeDir);
    if (roles.includes('llm')) {
      // Cache entries past CACHE_MAX_AGE_SECONDS.
      keepPruned('the cache', 3_600_000, () => cacheStore.prune(config.cacheMaxAgeMs), (n) => `${n} cache entries older than ${config.cacheMaxAgeMs / 1000} s from ${config.cacheDir}`);
      // Journal entries matter only until their activity completes: buckets older than an hour go.
      keepPruned('the answer journal', 600_000, () => journal.prune());
      // Offloaded payloads (large inputs and results, the limiter's carried state).
      const maxAgeMs = config.payloads.maxAgeMs;
      if (config.payloads.offloadBytes > 0 && maxAgeMs) {
        keepPruned('offloaded payloads', 3_600_000, () => payloadStore.prune(maxAgeMs), (n) => `${n} offloaded payloads unused for ${maxAgeMs / 1000} s from ${config.payloads.storeDir}`);
      }
    }
    const metrics = createLlmMetrics(Runtime.instance().metricMeter);
    // Every LLM worker process sees the same advertised buckets: each paces to its share.
    const fleet = config.flow.enabled && roles.includes('llm') ? new FleetSize(connection, config.temporal.namespace, llmTaskQueue(config.temporal.taskQueue)).start() : undefined;
    const flow = config.flow.enabled
      ? new FlowController({
          initialConcurrency: config.flow.initialConcurrency,
          fleetSize: () => fleet?.size ?? 1,
          windowMs: config.limitWindowMs,
          ceilings: config.limits,
          onStatus: (s) => metrics.recordFlow(s),
          onLearned: (model, limits) => Runtime.instance().logger.info('LLM flow control: the provider advertises these limits', { model, ...limits }),
        })
      : undefined;
    const admission = TemporalAdmission.enabled(config.limits)
      ? new TemporalAdmission(new Client({ connection, namespace: config.temporal.namespace, dataConverter }), config.temporal.taskQueue, config.limits, config.limitWindowMs)
      : undefined;
    if (admission) {
      admission.onFailOpen = (open) => metrics.recordFailOpen(open);
      admission.onAdmittedWithout = () => metrics.recordAdmittedWithoutLimiter();
    }
    const workers = await createWorkers({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      deps: {
        anthropic: createAnthropicClient(config.llm),
        defaults: { model: config.llm.model, maxTokens: config.llm.maxTokens },
        runsDir: config.runsDir,
        documentRoots: config.documentRoots,
        prices: config.prices,
        metrics,
        logPrompts: config.logPrompts,
        cache: new ResponseCache(cacheStore),
        journal,
        flow,
        throttleDeadlineMs: config.flow.throttleDeadlineMs,
        testOnlyPauseAfterAnswerMs: config.testOnlyPauseAfterAnswerMs || undefined,
        hedging: config.hedgePercentile ? new LatencyTracker(config.hedgePercentile) : undefined,
        admission,
      },
      llmMaxConcurrent: config.llm.maxConcurrent,
      llmRpm: config.llm.rpm,
      llmRpmWindowMs: config.limitWindowMs,
      roles,
      limiter: roles.includes('llm') && TemporalAdmission.enabled(config.limits),
      toolsMaxConcurrent: config.worker.toolsMaxConcurrent,
      heartbeatThrottleMs: config.worker.heartbeatThrottleMs,
      dataConverter,
      workflowBundle: config.worker.workflowBundlePath ? { codePath: config.worker.workflowBundlePath } : undefined,
    });
    const target = config.llm.provider === 'anthropic' ? 'the Anthropic API' : `the local LLM server at ${config.llm.baseURL}`;
    console.log(
      `worker: task queue "${config.temporal.taskQueue}" on ${config.temporal.address} (${roles.join(' + ')}), LLM calls to ${target}, ` +
        `max ${config.llm.maxConcurrent} concurrent${config.llm.rpm ? `, ${config.llm.rpm} requests/min` : ''}` +
        (config.metricsPort > 0 ? `, metrics on :${config.metricsPort}/metrics` : ''),
    );
    await Promise.all(workers.map((w) => w.run()));
    admission?.close();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
