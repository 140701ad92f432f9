/**
 * Response cache for identical LLM calls (same model, system, prompt and max_tokens) across runs,
 * opt-in per run with a TTL. The default store is embedded: one JSON file per key in a local
 * directory (atomic writes, no server); a shared store implements `CacheStore`. Identical calls in
 * flight at once share a single request: in one worker through a map of pending calls, across
 * worker processes through a claim in the store (a lock file with a renewed lease, for the file
 * store): the others wait for the claimant's answer, and make the call themselves if it gives up.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

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

/** The cache key of a call: a hash, so prompts never appear in file names. */
export function cacheKey(call: { model: string; system?: string; prompt: string; maxTokens: number }): string {
  return createHash('sha256').update(JSON.stringify([call.model, call.system ?? '', call.prompt, call.maxTokens])).digest('hex');
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
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return 0;
    }
    const now = Date.now();
    let removed = 0;
    for (const name of names) {
      // Entries by age; half-written files and locks of processes that died an hour ago.
      const limit = name.endsWith('.json') ? maxAgeMs : name.endsWith('.tmp') || name.endsWith('.lock') ? Math.max(3_600_000, CLAIM_LEASE_MS) : undefined;
      if (limit === undefined) continue;
      const file = path.join(this.dir, name);
      const st = await fs.stat(file).catch(() => undefined);
      if (st && now - st.mtimeMs > limit) {
        await fs.rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** A lock file `<key>.lock` holding a token; its mtime is the lease. */
  async claim(key: string, leaseMs: number): Promise<CacheClaim | undefined> {
    await fs.mkdir(this.dir, { recursive: true });
    const lock = path.join(this.dir, `${key}.lock`);
    const token = `${process.pid}-${randomUUID()}`;
    try {
      await fs.writeFile(lock, token, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await fs.stat(lock).catch(() => undefined);
      // Held and renewed recently by another process: not ours.
      if (st && Date.now() - st.mtimeMs < leaseMs) return undefined;
      // Released meanwhile, or its holder died: take it over (atomically), then check we won.
      const tmp = `${lock}.${token}.tmp`;
      await fs.writeFile(tmp, token);
      await fs.rename(tmp, lock);
      if ((await fs.readFile(lock, 'utf8').catch(() => '')) !== token) return undefined;
    }
    const mine = async () => (await fs.readFile(lock, 'utf8').catch(() => '')) === token;
    return {
      renew: async () => {
        if (await mine()) await fs.utimes(lock, new Date(), new Date());
      },
      release: async () => {
        if (await mine()) await fs.rm(lock, { force: true });
      },
    };
  }
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
  async getOrCall(
    key: string,
    ttlMs: number,
    call: () => Promise<CachedResponse>,
    signal?: AbortSignal,
  ): Promise<{ response: CachedResponse; hit: boolean; shared: boolean }> {
    const stored = await this.fresh(key, ttlMs);
    if (stored) return { response: stored, hit: true, shared: false };
    const pending = this.inFlight.get(key);
    if (pending) return { response: (await pending).response, hit: false, shared: true };
    const p = this.callOnce(key, ttlMs, call, signal);
    this.inFlight.set(key, p);
    try {
      return { ...(await p), hit: false };
    } finally {
      this.inFlight.delete(key);
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
