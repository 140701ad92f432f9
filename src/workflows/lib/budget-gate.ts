/**
 * Enforces a run's budget around each call: no call starts once the cap is reached, and with
 * `inFlight: 'cancel'` the calls still running are cancelled the moment it is. Workflow-side.
 */
import { CancellationScope } from '@temporalio/workflow';
import { BUDGET_EXCEEDED, Budget } from '../../core/budget';
import type { BudgetSpec, TaskResult } from '../../core/tasks';

/** Budget checks and in-flight cancellation for one run. */
export class BudgetGate {
  private readonly budget: Budget;
  private readonly running = new Set<CancellationScope>();
  private cancelledByBudget = false;

  constructor(spec: BudgetSpec | undefined) {
    this.budget = new Budget(spec);
  }

  /** If the budget is spent, the reason a task must not start; otherwise undefined. */
  refusal(): string | undefined {
    return this.budget.exceeded ? this.budget.reason('not run') : undefined;
  }

  /** Tokens left under the run's token cap (undefined without one). */
  tokensLeft(): number | undefined {
    return this.budget.tokensLeft;
  }

  /** Runs one call under the budget and accounts for what it spent. */
  run<T extends TaskResult>(call: () => Promise<T>): Promise<T> {
    // Only a budget that cancels calls in flight needs a scope per call (each scope costs promises),
    // and without one a single `then` does (an async function would cost two promises per call).
    if (!this.budget.cancelsInFlight) {
      let p: Promise<T>;
      try {
        p = call();
      } catch (err) {
        return Promise.reject(err);
      }
      return p.then((r) => {
        this.budget.add(r);
        return r;
      });
    }
    return this.runScoped(call);
  }

  private async runScoped<T extends TaskResult>(call: () => Promise<T>): Promise<T> {
    const scope = new CancellationScope();
    this.running.add(scope);
    let r: T;
    try {
      r = await scope.run(call);
    } finally {
      this.running.delete(scope);
    }
    if (r.state === 'cancelled' && this.cancelledByBudget) r = { ...r, error: this.budget.reason('cancelled'), errorType: BUDGET_EXCEEDED };
    this.budget.add(r);
    if (this.budget.exceeded && this.budget.cancelsInFlight && this.running.size) {
      this.cancelledByBudget = true;
      for (const s of this.running) s.cancel();
    }
    return r;
  }
}
