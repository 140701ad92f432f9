/**
 * Request hedging for tail latency: when a call is slower than the recent p95 of its model, a
 * second identical request is sent; the first answer wins and the other is aborted. Pays a few
 * percent more requests to cut the tail when slowness is per request (a slow replica), not per
 * prompt. Off unless LLM_HEDGE=1; the benchmark shows when it helps.
 */

/** Recent latencies per model, and the delay after which to hedge. */
export class LatencyTracker {
  private readonly samples = new Map<string, number[]>();
  /** Hedges sent, per model (the metric `llm_hedged_requests` counts the same). */
  readonly hedges = new Map<string, number>();

  constructor(
    private readonly percentile = 95,
    private readonly window = 200,
    private readonly minSamples = 20,
    private readonly minDelayMs = 50,
  ) {}

  /** Records a successful call's latency. */
  observe(model: string, ms: number): void {
    const s = this.samples.get(model) ?? [];
    s.push(ms);
    if (s.length > this.window) s.shift();
    this.samples.set(model, s);
  }

  /** Counts a hedge sent for a model. */
  hedged(model: string): void {
    this.hedges.set(model, (this.hedges.get(model) ?? 0) + 1);
  }

  /** The hedge delay for a model, or undefined while there are too few samples to know. */
  delayFor(model: string): number | undefined {
    const s = this.samples.get(model);
    if (!s || s.length < this.minSamples) return undefined;
    const sorted = [...s].sort((a, b) => a - b);
    const p = sorted[Math.min(sorted.length - 1, Math.floor((this.percentile / 100) * sorted.length))];
    return Math.max(this.minDelayMs, p);
  }
}

/**
 * Runs `start`, and if it has not settled `delayMs` after its request was really sent, runs it a
 * second time; resolves with the first success and aborts the other. `start` calls `sent()` when
 * its request leaves (after any wait for admission): time spent waiting for a permit is not
 * slowness of the request, so the delay counts from then. A failure before the hedge is sent is
 * returned at once; after it, the other request still gets its chance. `parent` aborts everything.
 */
export function hedgedRace<T>(start: (signal: AbortSignal, sent: () => void) => Promise<T>, delayMs: number, parent: AbortSignal, onHedge: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const controllers: AbortController[] = [];
    let done = false;
    let running = 0;
    let lastError: unknown;
    const onParentAbort = () => controllers.forEach((c) => c.abort(parent.reason));
    let timer: NodeJS.Timeout | undefined;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
      fn();
    };
    const launch = (sent: () => void) => {
      const c = new AbortController();
      controllers.push(c);
      running++;
      start(c.signal, sent).then(
        (v) =>
          finish(() => {
            for (const other of controllers) if (other !== c) other.abort(new Error('hedge lost'));
            resolve(v);
          }),
        (err: unknown) => {
          running--;
          lastError = err;
          // Before the hedge: fail now (clearing the timer); after it: wait for the other request.
          if (running === 0) finish(() => reject(lastError));
        },
      );
    };
    parent.addEventListener('abort', onParentAbort, { once: true });
    // The first request's clock starts when it is sent, not when it starts waiting for a permit.
    const armHedge = () => {
      if (done || timer) return;
      timer = setTimeout(() => {
        if (done) return;
        onHedge();
        launch(() => undefined);
      }, delayMs);
    };
    launch(armHedge);
  });
}
