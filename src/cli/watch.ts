/**
 * Live progress while a run goes: a progress bar on a terminal, one line per finished task
 * otherwise. Polls the workflow's progress query; stops when the result arrives.
 */
import { SingleBar } from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import type { Workflow, WorkflowResultType } from '@temporalio/common';
import type { Progress, TaskProgress } from '../core/progress';
import type { TaskResult } from '../core/tasks';
import { progressQuery } from '../protocol';

/** Options of watch(). */
export interface WatchOptions {
  /** Print nothing (e.g. --json). */
  quiet?: boolean;
  pollMs?: number;
  out?: NodeJS.WriteStream;
}

/** Shows progress until the workflow's result settles; returns (or throws) the result. */
export async function watch<W extends Workflow>(handle: WorkflowHandle<W>, o: WatchOptions = {}): Promise<WorkflowResultType<W>> {
  const resultP = handle.result();
  if (o.quiet) return resultP;
  const out = o.out ?? process.stderr;
  const tty = Boolean(out.isTTY);
  const reported = new Set<string>();
  let bar: SingleBar | undefined;
  let settled = false;
  void resultP.then(
    () => (settled = true),
    () => (settled = true),
  );

  /** One line for a finished task. */
  const line = (t: Pick<TaskProgress, 'taskId' | 'name' | 'state' | 'group' | 'durationMs' | 'attempts' | 'error'>) => {
    reported.add(t.taskId);
    const mark = t.state === 'succeeded' ? '✓' : t.state === 'skipped' ? '↷' : t.state === 'cancelled' ? '⊘' : '✗';
    const detail = t.state === 'succeeded' ? `${((t.durationMs ?? 0) / 1000).toFixed(1)}s${t.attempts && t.attempts > 1 ? `, ${t.attempts} attempts` : ''}` : (t.error ?? t.state);
    if (bar) bar.stop();
    out.write(`  ${mark} ${t.group ? `${t.group}: ` : ''}${t.name} (${detail})\n`);
    bar = undefined;
  };

  const render = (p: Progress) => {
    for (const t of p.tasks) {
      if (reported.has(t.taskId) || t.state === 'pending' || t.state === 'running') continue;
      line(t);
    }
    const finished = p.succeeded + p.failed + p.skipped + p.cancelled;
    const status = `${p.running} running, ${p.succeeded} ok, ${p.failed} failed${p.skipped ? `, ${p.skipped} skipped` : ''}${p.phase ? ` · ${p.phase}` : ''}`;
    if (tty && !settled) {
      if (!bar) {
        bar = new SingleBar({ format: '  [{bar}] {value}/{total} · {status}', stream: out, hideCursor: true, clearOnComplete: true, barsize: 30 });
        bar.start(p.total, finished, { status });
      } else {
        bar.setTotal(p.total);
        bar.update(finished, { status });
      }
    }
  };

  try {
    const ended = resultP.then(
      () => undefined,
      () => undefined,
    );
    while (!settled) {
      // A query waits while the run's workflow task is open (with llmDispatch 'local', while its
      // calls run): the result, when it comes first, ends the wait.
      const query = handle.query(progressQuery);
      query.catch(() => undefined);
      try {
        const p = await Promise.race([query, ended]);
        if (p) render(p);
      } catch {
        // The run may not have had its first workflow task yet; try again on the next tick.
      }
      if (settled) break;
      await Promise.race([ended, new Promise((r) => setTimeout(r, o.pollMs ?? 500))]);
    }
    // The tasks that finished since the last poll: from the result when it lists them (a query
    // of a closed run makes a worker replay its whole history first), else one last query.
    const finalTasks = await resultP.then(tasksOfResult, () => undefined);
    if (finalTasks) {
      for (const t of finalTasks) if (!reported.has(t.taskId)) line(t);
    } else {
      try {
        render(await handle.query(progressQuery));
      } catch {
        // A failed run may not answer queries; the result says what happened.
      }
    }
  } finally {
    bar?.stop();
  }
  return resultP;
}

/** The per-task results of a run's result, when it has them (every building block's result does). */
function tasksOfResult(r: unknown): TaskResult[] | undefined {
  const results = (r as { results?: unknown } | null)?.results;
  return Array.isArray(results) && results.every((t) => typeof (t as TaskResult | null)?.taskId === 'string' && typeof (t as TaskResult).state === 'string')
    ? (results as TaskResult[])
    : undefined;
}
