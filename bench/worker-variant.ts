/**
 * A bench-only worker: exactly `src/worker.ts`'s wiring (loadConfig, the project's data converter,
 * createWorkers), plus options read from BENCH_WORKER_OPTIONS (JSON) to measure what other
 * settings would do, without touching src/:
 *
 *   { "heartbeatThrottleMs": 8000,          // createWorkers' maxHeartbeatThrottleInterval (src default 2000)
 *     "heartbeatIntervalMs": 1000,          // how often callLlm heartbeats (src default 1000)
 *     "workflow": { ...WorkerOptions },     // merged into the workflow worker's options
 *     "llm": { ...WorkerOptions } }         // merged into the LLM activity worker's options
 *
 * The WorkerOptions overrides are merged by wrapping Worker.create for this process only.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { buildDataConverter } from '../src/data/data-converter';
import { llmTaskQueue } from '../src/core/names';
import { createAnthropicClient } from '../src/llm/client';
import { createWorkers } from '../src/workers';

interface VariantOptions {
  heartbeatThrottleMs?: number;
  heartbeatIntervalMs?: number;
  /** Experiment: drop callLlm's immediate first heartbeat (the periodic ones still go out). */
  skipFirstHeartbeat?: boolean;
  /** Log process.memoryUsage() every second to the worker's log (to see where RSS goes). */
  memLog?: boolean;
  workflow?: Partial<WorkerOptions>;
  llm?: Partial<WorkerOptions>;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const v = JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as VariantOptions;
  const original = Worker.create.bind(Worker);
  const llmQueue = llmTaskQueue(config.temporal.taskQueue);
  (Worker as unknown as { create: typeof Worker.create }).create = (opts: WorkerOptions) => {
    const extra = opts.taskQueue === config.temporal.taskQueue ? v.workflow : opts.taskQueue === llmQueue ? v.llm : undefined;
    const merged: WorkerOptions = { ...opts, ...extra };
    if (v.skipFirstHeartbeat && opts.taskQueue === llmQueue) {
      merged.interceptors = {
        ...merged.interceptors,
        activity: [
          ...(merged.interceptors?.activity ?? []),
          (ctx) => {
            const heartbeat = ctx.heartbeat;
            let first = true;
            (ctx as { heartbeat: typeof heartbeat }).heartbeat = (details?: unknown) => {
              if (first) first = false;
              else heartbeat(details);
            };
            return {};
          },
        ],
      };
    }
    return original(merged);
  };
  if (v.memLog) {
    setInterval(() => {
      const m = process.memoryUsage();
      const mb = (x: number) => Math.round(x / 1e6);
      console.log(`mem rss=${mb(m.rss)} heapTotal=${mb(m.heapTotal)} heapUsed=${mb(m.heapUsed)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)}`);
    }, 1000).unref();
  }
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  try {
    const workers = await createWorkers({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      deps: {
        anthropic: createAnthropicClient(config.llm),
        defaults: { model: config.llm.model, maxTokens: config.llm.maxTokens },
        runsDir: config.runsDir,
        ...(v.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: v.heartbeatIntervalMs } : {}),
      },
      toolsMaxConcurrent: config.worker.toolsMaxConcurrent,
      dataConverter: buildDataConverter(config.payloads),
      workflowBundle: config.worker.workflowBundlePath ? { codePath: config.worker.workflowBundlePath } : undefined,
      llmMaxConcurrent: config.llm.maxConcurrent,
      llmRpm: config.llm.rpm,
      heartbeatThrottleMs: v.heartbeatThrottleMs,
      roles: config.worker.roles,
    });
    console.log(`worker: task queue "${config.temporal.taskQueue}" (bench variant ${JSON.stringify(v)})`);
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`worker variant: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
