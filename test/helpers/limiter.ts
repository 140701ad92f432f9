/** The task queue's llmLimiter as tests see it. */
import type { Client } from '@temporalio/client';
import type { LimiterStatus } from '../../src/core/limiter';
import { limiterWorkflowId } from '../../src/core/names';
import { limiterStatusQuery } from '../../src/protocol';

/**
 * The limiter's status once nothing is in flight and the workers' last reports are in (no new
 * call reported for a second; a worker reports half a second after its last call ends), or after
 * `timeoutMs` (whatever it is then).
 */
export async function limiterWhenIdle(client: Client, taskQueue: string, timeoutMs = 15_000): Promise<LimiterStatus> {
  const handle = client.workflow.getHandle(limiterWorkflowId(taskQueue));
  const deadline = Date.now() + timeoutMs;
  let status = await handle.query(limiterStatusQuery);
  let lastChange = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const next = await handle.query(limiterStatusQuery);
    if (next.reported !== status.reported || next.inFlight !== status.inFlight) lastChange = Date.now();
    status = next;
    if (status.inFlight === 0 && Date.now() - lastChange >= 1000) break;
  }
  return status;
}
