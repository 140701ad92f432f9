/**
 * The practical floor: the same N calls through the same `@anthropic-ai/sdk` (maxRetries 0) with
 * `Promise.all`, a semaphore of k and a requests-per-minute limiter; no durability, no Temporal.
 *
 *   tsx bench/baselines/in-process.ts --n 100 --k 100 --base-url http://127.0.0.1:8787 [--rpm 0] [--max-tokens 1024]
 *
 * prints one line of JSON: { wallMs, n, k, ok, failed, firstError? }. The bench runs it compiled,
 * `node dist/bench/baselines/in-process.js ...` (bench/lib/build.ts), like the worker it is compared with.
 */
import Anthropic from '@anthropic-ai/sdk';
import { BENCH_MAX_TOKENS, BENCH_MODEL, benchPrompt } from '../lib/tasks';

export interface InProcessOptions {
  n: number;
  k: number;
  baseURL: string;
  /** Requests per minute (0 = no limit). */
  rpm?: number;
  maxTokens?: number;
  /** One untimed request first, so connection setup is not measured (the workflow runs are warmed up too). */
  warmup?: boolean;
}

export interface InProcessResult {
  wallMs: number;
  n: number;
  k: number;
  ok: number;
  failed: number;
  firstError?: string;
}

/** A counting semaphore. */
class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** Spaces request starts at least 60 000 / rpm ms apart (no bursts). */
class RpmLimiter {
  private next = 0;
  constructor(private readonly rpm: number) {}
  async acquire(): Promise<void> {
    if (this.rpm <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 60_000 / this.rpm;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  }
}

export async function runInProcess(o: InProcessOptions): Promise<InProcessResult> {
  const anthropic = new Anthropic({ apiKey: 'bench-key', baseURL: o.baseURL, maxRetries: 0 });
  const maxTokens = o.maxTokens ?? BENCH_MAX_TOKENS;
  const call = (prompt: string) => anthropic.messages.create({ model: BENCH_MODEL, max_tokens: maxTokens, messages: [{ role: 'user', content: prompt }] });
  if (o.warmup) await call('[warmup] in-process baseline');
  const sem = new Semaphore(o.k);
  const limiter = new RpmLimiter(o.rpm ?? 0);
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.n }, async (_, i) => {
      await sem.acquire();
      try {
        await limiter.acquire();
        await call(benchPrompt(i + 1, o.n));
        ok++;
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      } finally {
        sem.release();
      }
    }),
  );
  const wallMs = Math.round(performance.now() - t0);
  return { wallMs, n: o.n, k: o.k, ok, failed, ...(firstError ? { firstError } : {}) };
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const n = Number(arg(argv, 'n'));
  const k = Number(arg(argv, 'k') ?? n);
  const baseURL = arg(argv, 'base-url');
  if (!(n >= 1) || !(k >= 1) || !baseURL) {
    console.error('usage: node dist/bench/baselines/in-process.js (or tsx bench/baselines/in-process.ts) --n N --k K --base-url URL [--rpm R] [--max-tokens M] [--no-warmup]');
    process.exit(2);
  }
  runInProcess({ n, k, baseURL, rpm: Number(arg(argv, 'rpm') ?? 0), maxTokens: Number(arg(argv, 'max-tokens') ?? BENCH_MAX_TOKENS), warmup: !argv.includes('--no-warmup') }).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
