/** The response cache and the answer journal: folders shared by the workers of a fleet. */
import { z } from 'zod';
import { dirFrom, intFrom } from './env';

export const cacheEnv = z
  .object({
    CACHE_DIR: dirFrom('runs/cache'),
    CACHE_MAX_AGE_SECONDS: intFrom('CACHE_MAX_AGE_SECONDS', 60).default(30 * 86_400),
    LLM_JOURNAL_DIR: dirFrom('runs/journal'),
  })
  .transform((e) => ({
    /** Where the response cache lives. */
    cacheDir: e.CACHE_DIR,
    /** Cache entries older than this are deleted by the workers (whatever a run's TTL). */
    cacheMaxAgeMs: e.CACHE_MAX_AGE_SECONDS * 1000,
    /** Where paid answers wait for a retry after a crash (share it between workers, like the cache). */
    journalDir: e.LLM_JOURNAL_DIR,
  }));
export type CacheConfig = z.infer<typeof cacheEnv>;
