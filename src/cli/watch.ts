/**
 * Live progress while a run goes: a progress bar on a terminal, one line per finished task
 * otherwise. Polls the workflow's progress query; stops when the result arrives.
 */
import { SingleBar } from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import type { Workflow, WorkflowResultType } from '@temporalio/common';
import type { Progress } from '../core/progress';
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

  const render = (p: Progress) => {
    for (const t of p.tasks) {
      if (reported.has(t.taskId) || t.state === 'pending' || t.state === 'running') continue;
      reported.add(t.taskId);
      const mark = t.state === 'succeeded' ? '✓' : t.state === 'skipped' ? '↷' : t.state === 'cancelled' ? '⊘' : '✗';
      const detail =
        t.state === 'succeeded' ? `${((t.durationMs ?? 0) / 1000).toFixed(1)}s${t.attempts && t.attempts > 1 ? `, ${t.attempts} attempts` : ''}` : (t.error ?? t.state);
      const line = `  ${mark} ${t.group ? `${t.group}: ` : ''}${t.name} (${detail})`;
      if (bar) bar.stop();
      out.write(`${line}\n`);
      bar = undefined;
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
    while (!settled) {
      try {
        render(await handle.query(progressQuery));
      } catch {
        // The run may not have had its first workflow task yet; try again on the next tick.
      }
      await Promise.race([resultP.catch(() => undefined), new Promise((r) => setTimeout(r, o.pollMs ?? 500))]);
    }
    try {
      render(await handle.query(progressQuery));
    } catch {
      // A failed run may not answer queries; the result says what happened.
    }
  } finally {
    bar?.stop();
  }
  return resultP;
}
