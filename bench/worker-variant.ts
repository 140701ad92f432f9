/**
 * A bench-only worker: the real worker entry (its config, runtime, data converter and
 * createWorkers wiring, unchanged) with Worker options overridden from BENCH_WORKER_OPTIONS (JSON),
 * to measure what other settings would do without touching src/:
 *
 *   { "workflow": { ...WorkerOptions },   // merged into the workflow worker's options
 *     "llm": { ...WorkerOptions },        // merged into the LLM activity worker's options,
 *                                         //   e.g. { "maxConcurrentActivityTaskPolls": 100 }
 *                                         //   or   { "maxHeartbeatThrottleInterval": 8000 }
 *     "skipFirstHeartbeat": true,         // experiment: drop callLlm's immediate first heartbeat
 *     "memLog": true,                     // log process.memoryUsage() every second
 *     "env": { "LLM_FIRST_HEARTBEAT_MS": "2000" } }   // worker environment (its config)
 *
 * The overrides are merged by wrapping Worker.create in this process before the worker entry runs.
 * The bench runs it compiled: bench/lib/build.ts transpiles it to dist/bench/worker-variant.js, where
 * `../src/...` is dist/src/..., so `node dist/bench/worker-variant.js` loads dist/src/worker/main.js
 * (what `npm run worker` runs); with `launcher: 'node-cjs'` it runs from source and loads src/worker/main.ts.
 */
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { llmTaskQueue } from '../src/core/names';

interface VariantOptions {
  workflow?: Partial<WorkerOptions>;
  llm?: Partial<WorkerOptions>;
  skipFirstHeartbeat?: boolean;
  memLog?: boolean;
  /** Environment of the worker (its config), set before the worker entry reads it: e.g. { "LLM_FIRST_HEARTBEAT_MS": "2000" }. */
  env?: Record<string, string>;
}

const v = JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as VariantOptions;
const workflowQueue = process.env.TEMPORAL_TASK_QUEUE ?? 'agents';
const llmQueue = llmTaskQueue(workflowQueue);
const original = Worker.create.bind(Worker);

(Worker as unknown as { create: typeof Worker.create }).create = (opts: WorkerOptions) => {
  const extra = opts.taskQueue === workflowQueue ? v.workflow : opts.taskQueue === llmQueue ? v.llm : undefined;
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

Object.assign(process.env, v.env);
console.error(`bench worker variant: ${JSON.stringify(v)}`);
// The real entry point (dist/src/worker/main.js when compiled): it reads the environment and runs main() when loaded.
require('../src/worker/main');
