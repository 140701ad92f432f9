/**
 * Response cache for identical LLM calls (same model, system, prompt and max_tokens) across runs,
 * opt-in per run with a TTL. The default store is embedded: one JSON file per key in a local
 * directory (atomic writes, no server); a shared store implements `CacheStore`. Identical calls in
 * flight at once in one worker share a single request.
 */
import { createHash } from 'node:crypto';
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

/** Where cached responses live. */
export interface CacheStore {
  get(key: string): Promise<CachedResponse | undefined>;
  set(key: string, value: CachedResponse): Promise<void>;
}

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
}

/** Lookup, store and in-flight sharing around a call. */
export class ResponseCache {
  private readonly inFlight = new Map<string, Promise<CachedResponse>>();

  constructor(private readonly store: CacheStore) {}

  /**
   * Returns a fresh cached response (hit), or runs `call` once for all concurrent callers with the
   * same key and stores its response. `shared` is true for callers that waited on another's request.
   */
  async getOrCall(key: string, ttlMs: number, call: () => Promise<CachedResponse>): Promise<{ response: CachedResponse; hit: boolean; shared: boolean }> {
    const stored = await this.store.get(key);
    if (stored && Date.now() - stored.storedAt < ttlMs) return { response: stored, hit: true, shared: false };
    const pending = this.inFlight.get(key);
    if (pending) return { response: await pending, hit: false, shared: true };
    const p = call().then(async (r) => {
      await this.store.set(key, r);
      return r;
    });
    this.inFlight.set(key, p);
    try {
      return { response: await p, hit: false, shared: false };
    } finally {
      this.inFlight.delete(key);
    }
  }
}
