/** The task queue's llmLimiter as tests see it. */
import type { Client } from '@temporalio/client';
import type { LimiterStatus } from '../../src/core/limiter';
import { limiterWorkflowId } from '../../src/llm/admission';
import { limiterStatusQuery } from '../../src/workflows/llm-limiter';

/**
 * The limiter's status once no permit is in flight, or after `timeoutMs` (whatever it is then).
 * Waiting allows for one report of the permits a worker holds (every 5 s), which repairs a
 * settle that never took effect.
 */
export async function limiterWhenIdle(client: Client, taskQueue: string, timeoutMs = 15_000): Promise<LimiterStatus> {
  const handle = client.workflow.getHandle(limiterWorkflowId(taskQueue));
  const deadline = Date.now() + timeoutMs;
  let status = await handle.query(limiterStatusQuery);
  while (status.inFlight > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    status = await handle.query(limiterStatusQuery);
  }
  return status;
}
