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
