/**
 * Builds the workers of `npm run worker`: one for workflows on the main task queue, one for LLM
 * activities on `<queue>-llm` (bounded by concurrency and a queue-wide rate limit) and one for tool
 * activities on `<queue>-tools`; runs routed with splitQueues() use those. For a user's own
 * single worker, see AgentsPlugin (src/worker/plugin.ts).
 * Shared by `src/worker/main.ts` and the tests, so tests run exactly the production wiring.
 */
import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { bundleWorkflows } from './bundle';
import { temporal } from '@temporalio/proto';
import { createLlmActivities, createToolActivities, type ActivityDeps } from '../activities';
import { limiterTaskQueue, llmTaskQueue, toolTaskQueue } from '../core/names';

/** The kinds of work a worker process can take. */
export type WorkerRole = 'workflows' | 'llm' | 'tools';

/** What the workers need. */
export interface WorkersOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Max LLM calls this worker runs at once. */
  llmMaxConcurrent: number;
  /** LLM requests per minute across all workers of the queue (0 = unlimited): the server's smoothing rate. */
  llmRpm: number;
  /** The window llmRpm is counted over (a minute unless shortened for tests and benches). */
  llmRpmWindowMs?: number;
  /** Prebuilt workflow bundle (tests bundle once); otherwise the workflows are bundled from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Payload encryption / offload; must match the clients'. */
  dataConverter?: DataConverter;
  /** Longest gap between heartbeats sent to the server (how fast a cancel reaches a call). */
  heartbeatThrottleMs?: number;
  /**
   * Activity slots one workflow task completion may reserve for eager dispatch of the activities
   * it schedules on the workflow's own queue (runs started without splitQueues). Default
   * llmMaxConcurrent (the SDK's default is 3: a fan-out of 100 would get 3 eagerly); 0 = off.
   */
  eagerActivitySlots?: number;
  /** Max tool activities (CPU-heavy, blocking) this worker runs at once. */
  toolsMaxConcurrent?: number;
  /** Run only some roles (e.g. an LLM-only worker). */
  roles?: WorkerRole[];
  /**
   * Also run the `llmLimiter` workflows (admission control) on `<queue>-limiter`. On in every
   * process whose LLM calls go through admission, so the limiter runs wherever it is needed and
   * costs nothing (a second workflow worker, ~70 MB) where it is not.
   */
  limiter?: boolean;
}

/** Sets the server-side dispatch rate limit of an activity task queue (requests per second). */
export async function setQueueRateLimit(connection: NativeConnection, namespace: string, taskQueue: string, requestsPerSecond: number): Promise<void> {
  await connection.workflowService.updateTaskQueueConfig({
    namespace,
    identity: `llm-worker@${process.pid}`,
    taskQueue,
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    updateQueueRateLimit: { rateLimit: { requestsPerSecond }, reason: `LLM_RPM: ${Math.round(requestsPerSecond * 60)} requests per minute` },
  });
}

/** The path workers bundle workflows from. */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/** Creates the workers; run them with Promise.all(workers.map(w => w.run())). */
export async function createWorkers(o: WorkersOptions): Promise<Worker[]> {
  const roles = o.roles ?? ['workflows', 'llm', 'tools'];
  const workers: Promise<Worker>[] = [];
  // Bundled once for both workflow workers.
  const needsBundle = roles.includes('workflows') || o.limiter;
  const workflowBundle = o.workflowBundle ?? (needsBundle ? await bundleWorkflows(WORKFLOWS_PATH, Runtime.instance().logger) : undefined);
  if (roles.includes('workflows')) {
    // A run started without routing (see splitQueues in src/client) schedules its calls on its own
    // queue: a process that also runs LLM and tool workers serves them there too, from the same
    // dependencies (one flow control, one cache, one journal per process).
    const activities = {
      ...(roles.includes('llm') ? createLlmActivities(o.deps) : {}),
      ...(roles.includes('tools') ? createToolActivities(o.deps) : {}),
    };
    workers.push(
      Worker.create({
        connection: o.connection,
        namespace: o.namespace,
        taskQueue: o.taskQueue,
        dataConverter: o.dataConverter,
        workflowBundle,
        ...(Object.keys(activities).length
          ? {
              activities,
              maxConcurrentActivityTaskExecutions: o.llmMaxConcurrent,
              maxHeartbeatThrottleInterval: o.heartbeatThrottleMs ?? 5000,
              maxEagerActivityReservationsPerWorkflowTask: o.eagerActivitySlots ?? o.llmMaxConcurrent,
              // Runs with llmDispatch 'local' run their LLM calls here as local activities (SDK default: 100).
              maxConcurrentLocalActivityExecutions: o.llmMaxConcurrent,
            }
          : {}),
      }),
    );
  }
  if (o.limiter) {
    // On a queue of their own: limiter tasks never wait behind a big fan-out's, and a task stuck on
    // this worker's sticky queue (seen for the first task of a run after continue-as-new) goes
    // back to the normal queue after 1 s instead of 10.
    workers.push(
      Worker.create({
        connection: o.connection,
        namespace: o.namespace,
        taskQueue: limiterTaskQueue(o.taskQueue),
        dataConverter: o.dataConverter,
        workflowBundle,
        stickyQueueScheduleToStartTimeout: '1s',
      }),
    );
  }
  if (roles.includes('llm')) {
    // The request rate of the whole LLM task queue is the server's to hold: set in its task-queue
    // config (what `temporal task-queue config set --queue-rps-limit` sets), not per worker, where
    // the last worker to poll would override the others. A server without the API (or a key
    // without the permission) gets the old per-worker option instead, and a warning.
    let perWorkerRate: number | undefined;
    if (o.llmRpm > 0) {
      const rps = (o.llmRpm * 1000) / (o.llmRpmWindowMs ?? 60_000);
      await setQueueRateLimit(o.connection, o.namespace, llmTaskQueue(o.taskQueue), rps).catch((err: unknown) => {
        Runtime.instance().logger.warn('could not set the LLM task queue rate limit on the server; using maxTaskQueueActivitiesPerSecond', {
          error: err instanceof Error ? err.message : String(err),
        });
        perWorkerRate = rps;
      });
    }
    workers.push(
      Worker.create({
        connection: o.connection,
        namespace: o.namespace,
        taskQueue: llmTaskQueue(o.taskQueue),
        dataConverter: o.dataConverter,
        activities: createLlmActivities(o.deps),
        maxConcurrentActivityTaskExecutions: o.llmMaxConcurrent,
        // Cancellation reaches an activity only with a heartbeat response: keep that delay short.
        maxHeartbeatThrottleInterval: o.heartbeatThrottleMs ?? 5000,
        ...(perWorkerRate ? { maxTaskQueueActivitiesPerSecond: perWorkerRate } : {}),
      }),
    );
  }
  if (roles.includes('tools')) {
    workers.push(
      Worker.create({
        connection: o.connection,
        namespace: o.namespace,
        taskQueue: toolTaskQueue(o.taskQueue),
        dataConverter: o.dataConverter,
        activities: createToolActivities(o.deps),
        maxConcurrentActivityTaskExecutions: o.toolsMaxConcurrent ?? 2,
      }),
    );
  }
  return Promise.all(workers);
}
