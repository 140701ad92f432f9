/**
 * The answer journal: every answer the provider gives is written here, keyed by the activity
 * (namespace, workflow, run, activity id), before the activity completes. If the worker dies
 * between the answer and the completion, the retry finds the answer and returns it instead of
 * paying for the same request again. Entries are needed only until the activity's completion is
 * recorded, so they live in time buckets (one folder per `bucketMs`) and whole buckets older than
 * `maxAgeMs` are deleted: pruning costs one `rm` per bucket, never a scan of every entry.
 *
 * A journal protects retries that run where its folder is visible: the same machine, or every
 * worker when LLM_JOURNAL_DIR is a shared volume (as in docker-compose). The activity also puts
 * the answer in its heartbeat details, which Temporal hands to a retry on any machine when the
 * heartbeat reached the server before the crash.
 */
import { createHash } from 'node:crypto';
import { rename, statSync, writeFile } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CachedResponse } from './cache';

/** Who asked: the activity, as Temporal identifies it across its attempts. */
export interface JournalKey {
  namespace: string;
  workflowId: string;
  runId: string;
  activityId: string;
}

/** Where answers wait for a retry. */
export interface AnswerJournal {
  /** The answer kept for `key`; with `sinceMs`, only where an answer written since then can be. */
  get(key: JournalKey, sinceMs?: number): Promise<CachedResponse | undefined>;
  put(key: JournalKey, answer: CachedResponse): Promise<void>;
  /** Deletes buckets older than the journal's max age; returns how many. */
  prune(): Promise<number>;
}

/** How long an answer is kept for a retry (a retry comes seconds after a crash; an hour covers a fleet restart). */
export const JOURNAL_MAX_AGE_MS = 3_600_000;
/** Width of one time bucket (one folder). */
export const JOURNAL_BUCKET_MS = 600_000;

/** Clocks of the machines that share a journal (and the Temporal server's) may differ by this much. */
const CLOCK_SKEW_MS = 60_000;

/** How long a listing of the bucket folders is trusted (a get still always looks in the current bucket). */
const LIST_TTL_MS = 5_000;

/**
 * The callback forms, promisified: a write through `fs/promises` goes through a FileHandle and
 * costs the worker's main thread about twice as much per answer (README Performance, session 10).
 */
const writeFileCb = promisify(writeFile);
const renameCb = promisify(rename);

/** A hash, so ids never appear in file names. */
function fileKey(k: JournalKey): string {
  return createHash('sha256')
    .update(JSON.stringify([k.namespace, k.workflowId, k.runId, k.activityId]))
    .digest('hex');
}

/** One JSON file per answer under `<dir>/<bucket>/`. */
export class FileAnswerJournal implements AnswerJournal {
  constructor(
    private readonly dir: string,
    private readonly maxAgeMs = JOURNAL_MAX_AGE_MS,
    private readonly bucketMs = JOURNAL_BUCKET_MS,
    private readonly now: () => number = Date.now,
  ) {}

  private bucket(t: number): string {
    return String(Math.floor(t / this.bucketMs));
  }

  /** The bucket folder last created, so a put costs a write and a rename, not a mkdir too. */
  private made?: string;

  async put(key: JournalKey, answer: CachedResponse): Promise<void> {
    const dir = path.join(this.dir, this.bucket(this.now()));
    if (this.made !== dir) {
      await fs.mkdir(dir, { recursive: true });
      this.made = dir;
    }
    const file = path.join(dir, `${fileKey(key)}.json`);
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const text = JSON.stringify(answer);
    try {
      await writeFileCb(tmp, text);
    } catch (err) {
      // The folder was removed under us (pruned by another worker, or by hand): make it again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await fs.mkdir(dir, { recursive: true });
      await writeFileCb(tmp, text);
    }
    await renameCb(tmp, file);
  }

  /**
   * The bucket folders present when last listed. A get looks only in these and in the current
   * bucket, instead of trying every bucket of the max age (a failed open each: at hundreds of
   * calls a second that was a tenth of the worker's main thread). Listed again when the current
   * bucket changes or the listing is older than `LIST_TTL_MS`, so a bucket another process made
   * (another worker on a shared folder, or a crashed one) is seen.
   */
  private listed?: { bucket: string; at: number; buckets: string[] };

  private async buckets(now: number): Promise<string[]> {
    const current = this.bucket(now);
    if (this.listed?.bucket !== current || now - this.listed.at > LIST_TTL_MS) {
      const oldest = Math.floor((now - this.maxAgeMs) / this.bucketMs) - 1;
      const names = await fs.readdir(this.dir).catch(() => [] as string[]);
      const buckets = names.filter((n) => /^\d+$/.test(n) && Number(n) >= oldest && n !== current).sort((a, b) => Number(b) - Number(a));
      this.listed = { bucket: current, at: now, buckets };
    }
    // Newest first; the current bucket always (another process may have made it since the listing).
    return [current, ...this.listed.buckets];
  }

  /**
   * Looks in the buckets that exist, newest first. `sinceMs` (a local activity passes its run's
   * start) skips the buckets older than it, less `CLOCK_SKEW_MS`: a busy worker's journal has a
   * bucket for every 10 minutes of the hour, and a lookup that misses (every first execution of a
   * local activity) would otherwise open a file in each.
   */
  async get(key: JournalKey, sinceMs?: number): Promise<CachedResponse | undefined> {
    const name = `${fileKey(key)}.json`;
    const oldest = sinceMs === undefined ? -Infinity : Math.floor((sinceMs - CLOCK_SKEW_MS) / this.bucketMs);
    for (const b of await this.buckets(this.now())) {
      if (Number(b) < oldest) break;
      const file = path.join(this.dir, b, name);
      try {
        // A stat before the read: a miss (every first execution of a local activity) then costs one
        // system call, without the failed open's exception and promises (README Performance, session 10).
        if (!statSync(file, { throwIfNoEntry: false })) continue;
        return JSON.parse(await fs.readFile(file, 'utf8')) as CachedResponse;
      } catch {
        // Unreadable, or removed since the stat: look further back.
      }
    }
    return undefined;
  }

  async prune(): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return 0;
    }
    const oldest = Math.floor((this.now() - this.maxAgeMs) / this.bucketMs) - 1;
    let removed = 0;
    for (const name of names) {
      if (!/^\d+$/.test(name) || Number(name) >= oldest) continue;
      await fs.rm(path.join(this.dir, name), { recursive: true, force: true });
      if (this.made === path.join(this.dir, name)) this.made = undefined;
      this.listed = undefined;
      removed++;
    }
    return removed;
  }
}
