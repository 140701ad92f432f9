/**
 * Response cache for identical LLM calls (same model, system, prompt, max_tokens and structured
 * output) across runs, opt-in per run with a TTL. The default store is embedded: one JSON file per
 * key in a local directory (atomic writes, no server); a shared store implements `CacheStore`.
 * Identical calls in flight at once share a single request: in one worker through a map of pending
 * calls, across worker processes through a claim in the store (a generation file with a renewed
 * lease, for the file store): the others wait for the claimant's answer, and make the call
 * themselves if it gives up.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeOldFiles } from '../data/old-files';

/** What the cache keeps of a response. */
export interface CachedResponse {
  text: string;
  model: string;
  stopReason: string | null;
  tokens: { input: number; output: number };
  durationMs: number;
  storedAt: number;
}

/** The right to make the call for a key, held while the call runs. */
export interface CacheClaim {
  /** Extends the lease (called every leaseMs / 3 while the call runs). */
  renew(): Promise<void>;
  release(): Promise<void>;
}

/** Where cached responses live. */
export interface CacheStore {
  get(key: string): Promise<CachedResponse | undefined>;
  set(key: string, value: CachedResponse): Promise<void>;
  /**
   * Claims the call for `key` across processes: undefined while another live claim holds it. A
   * claim not renewed for `leaseMs` belongs to a dead process and may be taken over. Without this
   * method identical calls are shared within a process only.
   */
  claim?(key: string, leaseMs: number): Promise<CacheClaim | undefined>;
  /** Deletes entries stored more than `maxAgeMs` ago (and leftovers of dead processes); returns how many. */
  prune?(maxAgeMs: number): Promise<number>;
}

/** How long a claim lives without renewal (its holder renews it every third of this). */
export const CLAIM_LEASE_MS = 15_000;
/** How often a process waiting on another's claim looks for the answer. */
const WAIT_POLL_MS = 100;

/**
 * The cache key of a call: a hash, so prompts never appear in file names. A structured output
 * (name, description, schema) is part of it; a call without one keeps the key it always had.
 */
export function cacheKey(call: { model: string; system?: string; prompt: string; maxTokens: number; output?: { name: string; description: string; schema: unknown } }): string {
  const parts: unknown[] = [call.model, call.system ?? '', call.prompt, call.maxTokens];
  if (call.output) parts.push([call.output.name, call.output.description, canonical(call.output.schema)]);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** `v` with object keys sorted at every level, so equal schemas written in another key order share a key. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** One JSON file per key under a directory. */
export class FileCacheStore implements CacheStore {
  constructor(private readonly dir: string) {}

  async get(key: string): Promise<CachedResponse | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dir, `${key}.json`), 'utf8')) as CachedResponse;
    } catch {
      // Missing or unreadable entries are misses; the call is made and the entry rewritten.
      return undefined;
    }
  }

  async set(key: string, value: CachedResponse): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `${key}.json`);
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(value));
    await fs.rename(tmp, file);
  }

  async prune(maxAgeMs: number): Promise<number> {
    const leftover = Math.max(3_600_000, CLAIM_LEASE_MS);
    // Entries by age; half-written files of processes that died an hour ago.
    let removed = await removeOldFiles(this.dir, (name) => (name.endsWith('.json') ? maxAgeMs : name.endsWith('.tmp') ? leftover : undefined));
    // Claims of processes that died an hour ago; a claim folder goes once empty.
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.lock'))) {
      const lockDir = path.join(this.dir, name);
      removed += await removeOldFiles(lockDir, (g) => (/^\d+$/.test(g) ? leftover : undefined));
      await fs.rmdir(lockDir).catch(() => {});
    }
    return removed;
  }

  /**
   * A claim is a generation file `<key>.lock/<n>` holding a token; its mtime is the lease. Taking
   * over a dead holder's generation n means creating generation n + 1 with O_EXCL, which exactly
   * one process can do, however many race for it (renaming over a stale lock let every racer
   * believe it had won).
   */
  async claim(key: string, leaseMs: number): Promise<CacheClaim | undefined> {
    const lockDir = path.join(this.dir, `${key}.lock`);
    const token = `${process.pid}-${randomUUID()}`;
    for (let tries = 0; tries < 5; tries++) {
      try {
        await fs.mkdir(lockDir, { recursive: true });
      } catch (err) {
        // A release removing the (empty) folder at the same moment: look again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const gens = await generations(lockDir);
      const latest = gens.at(-1) ?? 0;
      if (latest > 0) {
        const st = await fs.stat(path.join(lockDir, String(latest))).catch(() => undefined);
        // Held and renewed recently by another process: not ours. (Gone: released just now.)
        if (st && Date.now() - st.mtimeMs < leaseMs) return undefined;
      }
      const file = path.join(lockDir, String(latest + 1));
      try {
        await fs.writeFile(file, token, { flag: 'wx' });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') return undefined; // another process took this generation first
        if (code === 'ENOENT') continue; // the folder was removed by a release meanwhile
        throw err;
      }
      // Ours. Older generations are stale or released: clear them.
      for (const g of gens) await fs.rm(path.join(lockDir, String(g)), { force: true });
      const mine = async () => (await fs.readFile(file, 'utf8').catch(() => '')) === token && ((await generations(lockDir)).at(-1) ?? 0) <= latest + 1;
      return {
        renew: async () => {
          if (await mine()) await fs.utimes(file, new Date(), new Date());
        },
        release: async () => {
          if (!(await mine())) return;
          await fs.rm(file, { force: true });
          await fs.rmdir(lockDir).catch(() => {}); // not empty: someone claims it right now
        },
      };
    }
    return undefined;
  }
}

/** The claim generations present in a lock folder, ascending. */
async function generations(lockDir: string): Promise<number[]> {
  const names = await fs.readdir(lockDir).catch(() => [] as string[]);
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Lookup, store and in-flight sharing around a call. */
export class ResponseCache {
  private readonly inFlight = new Map<string, Promise<{ response: CachedResponse; shared: boolean }>>();

  constructor(
    private readonly store: CacheStore,
    private readonly leaseMs = CLAIM_LEASE_MS,
  ) {}

  /**
   * Returns a fresh cached response (hit), or runs `call` once for all concurrent callers with the
   * same key, in this process and in others sharing the store, and stores its response. `shared`
   * is true for callers that waited on another's request.
   */
  async getOrCall(key: string, ttlMs: number, call: () => Promise<CachedResponse>, signal?: AbortSignal): Promise<{ response: CachedResponse; hit: boolean; shared: boolean }> {
    const stored = await this.fresh(key, ttlMs);
    if (stored) return { response: stored, hit: true, shared: false };
    const gone = new Set<Promise<unknown>>();
    for (;;) {
      const pending = this.inFlight.get(key);
      if (!pending || gone.has(pending)) break;
      gone.add(pending);
      // Another call in this process is making the request: wait for it, but only as long as this
      // caller wants to (its own cancellation), and if that call goes away (cancelled, failed),
      // make the request instead of failing with someone else's error.
      try {
        return { response: (await untilAborted(pending, signal)).response, hit: false, shared: true };
      } catch {
        if (signal?.aborted) throw signal.reason;
        const again = await this.fresh(key, ttlMs);
        if (again) return { response: again, hit: true, shared: false };
        // Loop: another waiter may have become the caller already; otherwise this one does.
      }
    }
    const p = this.callOnce(key, ttlMs, call, signal);
    this.inFlight.set(key, p);
    try {
      return { ...(await p), hit: false };
    } finally {
      if (this.inFlight.get(key) === p) this.inFlight.delete(key);
    }
  }

  private async fresh(key: string, ttlMs: number): Promise<CachedResponse | undefined> {
    const stored = await this.store.get(key);
    return stored && Date.now() - stored.storedAt < ttlMs ? stored : undefined;
  }

  /** Makes the call under a claim, or waits for the process holding the claim to store its answer. */
  private async callOnce(key: string, ttlMs: number, call: () => Promise<CachedResponse>, signal?: AbortSignal): Promise<{ response: CachedResponse; shared: boolean }> {
    for (;;) {
      const claim = this.store.claim ? await this.store.claim(key, this.leaseMs) : { renew: async () => {}, release: async () => {} };
      if (claim) {
        const renew = setInterval(() => void claim.renew().catch(() => {}), this.leaseMs / 3);
        try {
          // The previous holder may have stored its answer just before we claimed.
          const stored = await this.fresh(key, ttlMs);
          if (stored) return { response: stored, shared: true };
          const r = await call();
          await this.store.set(key, r);
          return { response: r, shared: false };
        } finally {
          clearInterval(renew);
          await claim.release().catch(() => {});
        }
      }
      // Another process is making this call: wait for its answer (or for it to give up).
      await sleep(WAIT_POLL_MS, signal);
      const stored = await this.fresh(key, ttlMs);
      if (stored) return { response: stored, shared: true };
    }
  }
}

/** `p`, or a rejection with the signal's reason as soon as it aborts (p itself goes on). */
function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
