/**
 * A deterministic concurrency window for workflow code: at most `max` holders at once, and when
 * a slot frees, the waiting entry with the lowest rank gets it (ties: first come). One `condition`
 * drives grants, so every entry that became ready in the same activation competes by rank
 * (critical-path-first for DAGs, input order for fan-outs), and the cost per grant is O(log n).
 */
import { CancellationScope, condition } from '@temporalio/workflow';

interface Waiter {
  rank: number;
  seq: number;
  grant: () => void;
  reject: (err: unknown) => void;
  scope: CancellationScope;
}

/** A bounded set of slots with ranked waiting. Not exported from the workflows index. */
export class RankedSlots {
  private inFlight = 0;
  private seq = 0;
  private readonly waiting: Waiter[] = [];
  /** The waiters of each cancellation scope: one listener per scope, not one promise per waiter. */
  private readonly byScope = new Map<CancellationScope, Set<Waiter>>();
  private pumping = false;

  constructor(private readonly max: number) {}

  /** How many slots are held now. */
  get held(): number {
    return this.inFlight;
  }

  /** How many entries wait for a slot now. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Waits for a slot; lower rank goes first. Rejects if the caller's scope is cancelled while waiting. */
  acquire(rank: number): Promise<void> {
    this.ensurePump();
    const scope = CancellationScope.current();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { rank, seq: this.seq++, grant: resolve, reject, scope };
      this.insert(waiter);
      let mine = this.byScope.get(scope);
      if (!mine) {
        mine = new Set();
        this.byScope.set(scope, mine);
        scope.cancelRequested.catch((err: unknown) => {
          // Every waiter of the scope that is still waiting, in the order they asked.
          const waiters = this.byScope.get(scope) ?? new Set<Waiter>();
          this.byScope.delete(scope);
          for (const w of waiters) {
            const i = this.waiting.indexOf(w);
            if (i >= 0) {
              this.waiting.splice(i, 1);
              w.reject(err);
            }
          }
        });
      }
      mine.add(waiter);
    });
  }

  /**
   * Takes a free slot at once, without a promise, when nobody is waiting (true); otherwise takes
   * nothing (false). Only for callers whose ranks come in order, e.g. a fan-out's tasks started one
   * by one: a lower rank asking later in the same activation would not get the slot first.
   */
  tryAcquire(): boolean {
    if (this.inFlight >= this.max || this.waiting.length > 0) return false;
    this.inFlight++;
    return true;
  }

  /** Frees a slot taken by acquire() or tryAcquire(). */
  release(): void {
    this.inFlight--;
  }

  /** Runs fn inside a slot. */
  async run<T>(rank: number, fn: () => Promise<T>): Promise<T> {
    await this.acquire(rank);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private insert(w: Waiter): void {
    // Binary search for the first entry that sorts after w (rank, then arrival).
    let lo = 0;
    let hi = this.waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.waiting[mid];
      if (m.rank < w.rank || (m.rank === w.rank && m.seq < w.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.waiting.splice(lo, 0, w);
  }

  private ensurePump(): void {
    if (this.pumping) return;
    this.pumping = true;
    // The pump must outlive cancellation of whichever scope first called acquire().
    void CancellationScope.nonCancellable(async () => {
      for (;;) {
        await condition(() => this.inFlight < this.max && this.waiting.length > 0);
        while (this.inFlight < this.max && this.waiting.length > 0) {
          const next = this.waiting.shift()!;
          this.byScope.get(next.scope)?.delete(next);
          this.inFlight++;
          next.grant();
        }
      }
    });
  }
}
