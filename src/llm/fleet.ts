/**
 * How many worker processes serve the LLM task queue now, from the Temporal server's own record
 * of its pollers (`DescribeTaskQueue`): no registry to run, one RPC per process every 10 s. Flow
 * control uses it to split the provider's advertised buckets between the processes that all see
 * them (each paces to its share; the headers of every answer resynchronise them).
 */
import type { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';

/** How often the pollers are looked up. */
const REFRESH_MS = 10_000;
/** A poller not seen for this long is gone (live pollers poll at least every minute). */
const LIVE_MS = 70_000;

/** The number of live worker processes polling one activity task queue. */
export class FleetSize {
  /** The last count (at least 1: this process). */
  size = 1;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly connection: Pick<NativeConnection, 'workflowService'>,
    private readonly namespace: string,
    private readonly taskQueue: string,
  ) {}

  /** Looks the pollers up now, then every 10 s; a failed lookup keeps the last count. */
  start(): this {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One lookup: distinct identities of the queue's pollers seen within the last 70 s. */
  async refresh(): Promise<number> {
    try {
      const r = await this.connection.workflowService.describeTaskQueue({
        namespace: this.namespace,
        taskQueue: { name: this.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      const now = Date.now();
      const live = new Set(
        (r.pollers ?? [])
          .filter((p) => {
            const t = p.lastAccessTime;
            const ms = t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : now;
            return now - ms < LIVE_MS;
          })
          .map((p) => p.identity),
      );
      this.size = Math.max(1, live.size);
    } catch {
      // Keep the last count: pacing to a stale share is better than to none.
    }
    return this.size;
  }
}
