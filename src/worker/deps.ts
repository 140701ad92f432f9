/**
 * What the LLM and tool activities of one worker process need, built from config: the Anthropic
 * client, flow control (sized to the fleet polling the LLM queue), the fleet limiter's admission
 * when limits are configured, the response cache, the answer journal, metrics. Shared by
 * `npm run worker` (src/worker/main.ts) and AgentsPlugin, so both run the same wiring.
 */
import { createMcpSources } from '../mcp/source';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { Runtime, type NativeConnection } from '@temporalio/worker';
import type { ActivityDeps } from '../activities';
import type { Config } from '../config';
import { FileStorageDriver } from '../data/file-storage-driver';
import { TemporalAdmission } from '../llm/admission';
import { createAnthropicClient } from '../llm/anthropic';
import { FileCacheStore, ResponseCache } from '../llm/cache';
import { FleetSize } from '../llm/fleet';
import { FlowController } from '../llm/flow';
import { LatencyTracker } from '../llm/hedging';
import { FileAnswerJournal } from '../llm/journal';
import { createLlmMetrics } from '../metrics';

/** Where the activities run: the server connection and the task queues involved. */
export interface DepsPlacement {
  connection: NativeConnection;
  namespace: string;
  /** The task queue the LLM activities poll (the fleet's size is counted on it). */
  llmTaskQueue: string;
  /** The queue whose `<queue>-limiter` runs the fleet limiter (when limits are configured). */
  limiterBaseQueue: string;
  dataConverter?: DataConverter;
  /** Build only what LLM activities need (false: tools only). */
  llm?: boolean;
}

/** Activity dependencies plus what must be stopped when the worker stops. */
export interface BuiltDeps {
  deps: ActivityDeps;
  admission?: TemporalAdmission;
  /** Stops timers (pruning, fleet polling) and admission renewals; closes MCP connections (stdio servers exit). */
  close(): Promise<void>;
}

/** Runs `prune` now and every `everyMs`, saying what it removed (when `removed` says how) and what failed. */
function keepPruned(what: string, everyMs: number, prune: () => Promise<number>, removed?: (n: number) => string): NodeJS.Timeout {
  const once = () =>
    prune().then(
      (n) => n > 0 && removed && Runtime.instance().logger.info(`pruned ${removed(n)}`),
      (err: unknown) => Runtime.instance().logger.warn(`could not prune ${what}`, { error: err instanceof Error ? err.message : String(err) }),
    );
  void once();
  return setInterval(() => void once(), everyMs).unref();
}

/** Builds the activities' dependencies from config. */
export function buildActivityDeps(config: Config, at: DepsPlacement): BuiltDeps {
  const timers: NodeJS.Timeout[] = [];
  const cacheStore = new FileCacheStore(config.cacheDir);
  const journal = new FileAnswerJournal(config.journalDir);
  const withLlm = at.llm ?? true;
  if (withLlm) {
    // Folders the LLM workers write to would grow forever: each is pruned at start and then periodically.
    timers.push(
      keepPruned(
        'the cache',
        3_600_000,
        () => cacheStore.prune(config.cacheMaxAgeMs),
        (n) => `${n} cache entries older than ${config.cacheMaxAgeMs / 1000} s from ${config.cacheDir}`,
      ),
    );
    // Journal entries matter only until their activity completes: buckets older than an hour go.
    timers.push(keepPruned('the answer journal', 600_000, () => journal.prune()));
    const maxAgeMs = config.payloads.maxAgeMs;
    if (config.payloads.offloadBytes > 0 && maxAgeMs) {
      const payloadStore = new FileStorageDriver(config.payloads.storeDir);
      timers.push(
        keepPruned(
          'offloaded payloads',
          3_600_000,
          () => payloadStore.prune(maxAgeMs),
          (n) => `${n} offloaded payloads unused for ${maxAgeMs / 1000} s from ${config.payloads.storeDir}`,
        ),
      );
    }
  }
  const metrics = createLlmMetrics(Runtime.instance().metricMeter);
  // Every LLM worker process sees the same advertised buckets: each paces to its share.
  const fleet = config.flow.enabled && withLlm ? new FleetSize(at.connection, at.namespace, at.llmTaskQueue).start() : undefined;
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
  const admission =
    withLlm && TemporalAdmission.enabled(config.limits)
      ? new TemporalAdmission(
          new Client({ connection: at.connection, namespace: at.namespace, dataConverter: at.dataConverter }),
          at.limiterBaseQueue,
          config.limits,
          config.limitWindowMs,
        )
      : undefined;
  if (admission) {
    admission.onFailOpen = (open) => metrics.recordFailOpen(open);
    admission.onAdmittedWithout = () => metrics.recordAdmittedWithoutLimiter();
  }
  const deps: ActivityDeps = {
    anthropic: createAnthropicClient(config.llm),
    defaults: { model: config.llm.model, maxTokens: config.llm.maxTokens },
    runsDir: config.runsDir,
    documentRoots: config.documentRoots,
    documentsDir: config.documentsDir,
    // MCP servers connect on first use (the first describeAgentTools or call), not at start.
    toolSources: createMcpSources(config.mcpServers),
    prices: config.prices,
    metrics,
    logPrompts: config.logPrompts,
    cache: new ResponseCache(cacheStore),
    journal,
    flow,
    throttleDeadlineMs: config.flow.throttleDeadlineMs,
    testOnlyPauseAfterAnswerMs: config.testOnlyPauseAfterAnswerMs || undefined,
    firstHeartbeatDelayMs: config.worker.firstHeartbeatDelayMs || undefined,
    hedging: config.hedgePercentile ? new LatencyTracker(config.hedgePercentile) : undefined,
    admission,
  };
  return {
    deps,
    admission,
    async close() {
      for (const t of timers) clearInterval(t);
      fleet?.stop();
      admission?.close();
      await Promise.all((deps.toolSources ?? []).map((s) => s.close?.()));
    },
  };
}
