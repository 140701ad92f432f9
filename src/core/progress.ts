/** Live progress of a run, as returned by every workflow's `progressQuery`. Pure. */
import type { TaskResult, TaskState, Tokens } from './tasks';

/** A task's state while the run is going. */
export type LiveState = 'pending' | 'running' | TaskState;

/** One task's line in the progress. */
export interface TaskProgress {
  taskId: string;
  name: string;
  state: LiveState;
  /** Stage, DAG level or group, when the workflow has one. */
  group?: string;
  durationMs?: number;
  attempts?: number;
  error?: string | null;
  /** First characters of the output, so clients can show results as they complete. */
  outputPreview?: string;
}

/** Counts and per-task states of a run. */
export interface Progress {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
  done: boolean;
  /** What the workflow is doing now, e.g. `analysis` or `synthesize`. */
  phase?: string;
  tokens: Tokens;
  tasks: TaskProgress[];
}

/** Above this many tasks the progress query returns counts only (query answers must stay small). */
export const MAX_TASKS_IN_PROGRESS = 2000;

/** Tracks task states inside a workflow and answers the progress query. */
export class ProgressTracker {
  private readonly order: string[] = [];
  private readonly tasks = new Map<string, TaskProgress>();
  private tokens: Tokens = { input: 0, output: 0 };
  phase?: string;
  done = false;

  /** Registers a task as pending; order of registration is the order shown. */
  add(taskId: string, name: string, group?: string): void {
    if (!this.tasks.has(taskId)) this.order.push(taskId);
    this.tasks.set(taskId, { taskId, name, state: 'pending', group });
  }

  /** Marks a task running. */
  running(taskId: string): void {
    const t = this.tasks.get(taskId);
    if (t) t.state = 'running';
  }

  /** Marks a task skipped with a reason. */
  skipped(taskId: string, reason: string): void {
    const t = this.tasks.get(taskId);
    if (t) Object.assign(t, { state: 'skipped', error: reason });
  }

  /** Records a task's final result. */
  finished(r: TaskResult): void {
    const t = this.tasks.get(r.taskId);
    if (!t) return;
    Object.assign(t, {
      state: r.state,
      group: t.group ?? r.group,
      durationMs: r.durationMs,
      attempts: r.attempts,
      error: r.error,
      outputPreview: r.output ? r.output.slice(0, 120) : undefined,
    });
    this.tokens = { input: this.tokens.input + r.tokens.input, output: this.tokens.output + r.tokens.output };
  }

  /** The query answer; per-task lines are left out of huge runs to keep the answer small. */
  snapshot(): Progress {
    const all = this.order.map((id) => this.tasks.get(id)!);
    const count = (s: LiveState) => all.filter((t) => t.state === s).length;
    const tasks = all.length <= MAX_TASKS_IN_PROGRESS ? all.map((t) => ({ ...t })) : [];
    return {
      total: all.length,
      pending: count('pending'),
      running: count('running'),
      succeeded: count('succeeded'),
      failed: count('failed'),
      skipped: count('skipped'),
      cancelled: count('cancelled'),
      done: this.done,
      phase: this.phase,
      tokens: this.tokens,
      tasks,
    };
  }
}
