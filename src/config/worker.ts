/** What a worker process runs and serves: its roles, tool slots, heartbeats, metrics endpoint, workflow bundle. */
import { z } from 'zod';
import { intFrom, listFrom } from './env';

export const workerEnv = z
  .object({
    WORKER_ROLES: listFrom('workflows,llm,tools').pipe(z.array(z.enum(['workflows', 'llm', 'tools'], { error: 'WORKER_ROLES items must be workflows, llm or tools' })).min(1)),
    TOOLS_MAX_CONCURRENT: intFrom('TOOLS_MAX_CONCURRENT', 1).default(2),
    LLM_HEARTBEAT_THROTTLE_MS: intFrom('LLM_HEARTBEAT_THROTTLE_MS', 100)
      .refine((n) => n <= 8000, 'LLM_HEARTBEAT_THROTTLE_MS must be at most 8000 (the heartbeat timeout is 10 s)')
      .default(5000),
    LLM_FIRST_HEARTBEAT_MS: intFrom('LLM_FIRST_HEARTBEAT_MS', 0)
      .refine((n) => n <= 8000, 'LLM_FIRST_HEARTBEAT_MS must be at most 8000 (the heartbeat timeout is 10 s)')
      .default(0),
    EAGER_ACTIVITY_SLOTS: intFrom('EAGER_ACTIVITY_SLOTS', 0).optional(),
    WORKFLOW_BUNDLE: z.string().trim().min(1).optional(),
    METRICS_PORT: intFrom('METRICS_PORT', 0).default(0),
    TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS: intFrom('TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS', 0).default(0),
  })
  .transform((e) => ({
    worker: {
      roles: e.WORKER_ROLES,
      /** Longest gap between heartbeats sent to the server: how fast a cancellation reaches a call, against heartbeat RPC load. */
      heartbeatThrottleMs: e.LLM_HEARTBEAT_THROTTLE_MS,
      /** No liveness heartbeat before this long into an LLM call (0: one at once); the answer's heartbeat is always sent. */
      firstHeartbeatDelayMs: e.LLM_FIRST_HEARTBEAT_MS,
      /**
       * Activity slots one workflow task completion may reserve for eager dispatch (activities on
       * the workflow's own queue); unset: LLM_MAX_CONCURRENT. 0 turns eager dispatch off.
       */
      eagerActivitySlots: e.EAGER_ACTIVITY_SLOTS,
      toolsMaxConcurrent: e.TOOLS_MAX_CONCURRENT,
      /** A prebuilt workflow bundle (e.g. from CI or tests) instead of bundling at start. */
      workflowBundlePath: e.WORKFLOW_BUNDLE,
    },
    /** Prometheus endpoint of the worker (0 = off). */
    metricsPort: e.METRICS_PORT,
    /** TEST ONLY (TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS): pause between an answer and the activity's completion. */
    testOnlyPauseAfterAnswerMs: e.TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS,
  }));
export type WorkerConfig = z.infer<typeof workerEnv>;
