/** A run's spending cap, tracked inside the workflow from finished results. Pure and deterministic. */
import type { BudgetSpec, TaskResult } from './tasks';

/** Error type of tasks not run (or cancelled) because the budget was reached. */
export const BUDGET_EXCEEDED = 'BudgetExceeded';

/** Tracks spend against a cap. */
export class Budget {
  private tokens = 0;
  private cost = 0;

  constructor(readonly spec: BudgetSpec | undefined) {}

  /** Adds a finished call's spend. */
  add(r: Pick<TaskResult, 'tokens' | 'costUsd'>): void {
    this.tokens += r.tokens.input + r.tokens.output;
    this.cost += r.costUsd ?? 0;
  }

  /** True once the cap is reached: no new call may start. */
  get exceeded(): boolean {
    if (!this.spec) return false;
    return (this.spec.maxTokens !== undefined && this.tokens >= this.spec.maxTokens) || (this.spec.maxCostUsd !== undefined && this.cost >= this.spec.maxCostUsd);
  }

  /** Tokens left under a token cap (undefined without one): what an agent starting now may spend. */
  get tokensLeft(): number | undefined {
    return this.spec?.maxTokens === undefined ? undefined : Math.max(0, this.spec.maxTokens - this.tokens);
  }

  /** Cancel in-flight calls when the cap is reached? */
  get cancelsInFlight(): boolean {
    return this.spec?.inFlight === 'cancel';
  }

  /** Why a task did not run, in words. */
  reason(what: 'not run' | 'cancelled'): string {
    const caps = [
      this.spec?.maxTokens !== undefined ? `${this.tokens} of ${this.spec.maxTokens} tokens` : undefined,
      this.spec?.maxCostUsd !== undefined ? `$${this.cost.toFixed(4)} of $${this.spec.maxCostUsd}` : undefined,
    ].filter(Boolean);
    return `${what}: the run's budget was reached (${caps.join(', ')})`;
  }
}

/**
 * One budget across the shards of a run: a shard starting now gets the part of what is left
 * (the cap, less what finished shards spent and the shares of running ones) that its tasks are
 * of the tasks not started yet; a finished shard returns what it did not spend. Every shard stops
 * starting calls at its share, so the run as a whole stays within the cap plus what was in flight.
 */
export class BudgetShares {
  private spentTokens = 0;
  private spentCost = 0;
  private readonly held = new Map<number, { tokens: number; cost: number }>();
  private readonly started = new Set<number>();

  constructor(
    private readonly spec: BudgetSpec | undefined,
    private readonly sizes: number[],
  ) {}

  /** The budget for shard `i` as it starts, or why it must not run at all. */
  take(i: number): { budget?: BudgetSpec; refusal?: string } {
    this.started.add(i);
    if (!this.spec) return {};
    const unstarted = this.sizes.reduce((n, s, j) => (j === i || !this.started.has(j) ? n + s : n), 0);
    const frac = this.sizes[i] / Math.max(1, unstarted);
    const heldTokens = [...this.held.values()].reduce((n, h) => n + h.tokens, 0);
    const heldCost = [...this.held.values()].reduce((n, h) => n + h.cost, 0);
    const tokens = this.spec.maxTokens !== undefined ? Math.floor((this.spec.maxTokens - this.spentTokens - heldTokens) * frac) : undefined;
    const cost = this.spec.maxCostUsd !== undefined ? (this.spec.maxCostUsd - this.spentCost - heldCost) * frac : undefined;
    if ((tokens !== undefined && tokens < 1) || (cost !== undefined && cost <= 0)) {
      const caps = [
        this.spec.maxTokens !== undefined ? `${this.spentTokens} of ${this.spec.maxTokens} tokens spent or held by running shards` : undefined,
        this.spec.maxCostUsd !== undefined ? `$${this.spentCost.toFixed(4)} of $${this.spec.maxCostUsd} spent or held` : undefined,
      ].filter(Boolean);
      return { refusal: `not run: the run's budget was reached (${caps.join(', ')})` };
    }
    this.held.set(i, { tokens: tokens ?? 0, cost: cost ?? 0 });
    return { budget: { ...this.spec, ...(tokens !== undefined ? { maxTokens: tokens } : {}), ...(cost !== undefined ? { maxCostUsd: cost } : {}) } };
  }

  /** Shard `i` finished with these results: its share is replaced by what it really spent. */
  settle(i: number, results: Pick<TaskResult, 'tokens' | 'costUsd'>[]): void {
    this.held.delete(i);
    for (const r of results) {
      this.spentTokens += r.tokens.input + r.tokens.output;
      this.spentCost += r.costUsd ?? 0;
    }
  }
}
