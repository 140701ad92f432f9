/**
 * Runs the local LLM server as its own process (for the demo and for benches that want the LLM
 * outside the worker's event loop). Control it over HTTP via the `/_admin` endpoints.
 *
 *   LLM_SERVER_PORT=8787 LLM_TTFT_MS=1000 LLM_PER_TOKEN_MS=8 LLM_OUTPUT_TOKENS=250 npx tsx src/testing/local-llm/main.ts   (or: npm run llm-server)
 */
import { startLocalLlmServer, type LocalLlmServer, type LocalLlmServerOptions } from './server';
import { DEFAULT_LATENCY } from './messages';

/** Settings read from the environment. */
export interface MainConfig {
  port: number;
  host: string;
  ttftMs: number;
  perTokenMs: number;
  outputTokens: number;
  seed?: number;
  /** The emulated API rate limits (LLM_SERVER_RPM, _ITPM, _OTPM, _TPM per LLM_SERVER_LIMIT_WINDOW_MS); none when unset. */
  rateLimits?: { rpm?: number; itpm?: number; otpm?: number; tpm?: number; windowMs?: number };
}

/** Thrown for a bad environment variable; `main` prints only its message (a stack trace would hide it). */
export class ConfigError extends Error {}

function readNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, opts: { integer?: boolean; min?: number; max?: number } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  const kind = opts.integer ? 'an integer' : 'a number';
  if (!Number.isFinite(value) || (opts.integer && !Number.isInteger(value))) {
    throw new ConfigError(`${name} must be ${kind}, got ${JSON.stringify(raw)}`);
  }
  const min = opts.min ?? 0;
  if (value < min || (opts.max !== undefined && value > opts.max)) {
    throw new ConfigError(`${name} must be ${kind} between ${min} and ${opts.max ?? 'infinity'}, got ${raw}`);
  }
  return value;
}

/** Parses and validates the LLM_* environment variables; throws a {@link ConfigError} on bad input. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): MainConfig {
  const seedRaw = env.LLM_SEED;
  return {
    port: readNumber(env, 'LLM_SERVER_PORT', 8787, { integer: true, max: 65535 }),
    host: env.LLM_SERVER_HOST?.trim() || '127.0.0.1',
    ttftMs: readNumber(env, 'LLM_TTFT_MS', DEFAULT_LATENCY.ttftMs),
    perTokenMs: readNumber(env, 'LLM_PER_TOKEN_MS', DEFAULT_LATENCY.perTokenMs),
    outputTokens: readNumber(env, 'LLM_OUTPUT_TOKENS', DEFAULT_LATENCY.outputTokens, { integer: true }),
    seed: seedRaw === undefined || seedRaw.trim() === '' ? undefined : readNumber(env, 'LLM_SEED', 42, { integer: true }),
    rateLimits: rateLimitsFromEnv(env),
  };
}

function rateLimitsFromEnv(env: NodeJS.ProcessEnv): MainConfig['rateLimits'] {
  const out: NonNullable<MainConfig['rateLimits']> = {};
  for (const [key, name] of [
    ['rpm', 'LLM_SERVER_RPM'],
    ['itpm', 'LLM_SERVER_ITPM'],
    ['otpm', 'LLM_SERVER_OTPM'],
    ['tpm', 'LLM_SERVER_TPM'],
  ] as const) {
    const v = readNumber(env, name, 0, { integer: true });
    if (v > 0) out[key] = v;
  }
  if (Object.keys(out).length === 0) return undefined;
  out.windowMs = readNumber(env, 'LLM_SERVER_LIMIT_WINDOW_MS', 60_000, { integer: true, min: 100 });
  return out;
}

/** Starts the server from the environment, prints where it listens and closes it on SIGINT/SIGTERM. */
export async function main(): Promise<void> {
  let config: MainConfig;
  try {
    config = configFromEnv();
  } catch (err) {
    console.error(`local LLM server: ${(err as Error).message}`);
    process.exit(1);
  }

  const opts: LocalLlmServerOptions = { ...config };
  let server: LocalLlmServer;
  try {
    server = await startLocalLlmServer(opts);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') {
      console.error(`local LLM server: port ${config.port} is already in use on ${config.host} (is another server running? set LLM_SERVER_PORT to pick another)`);
    } else if (code === 'EACCES') {
      console.error(`local LLM server: permission denied listening on ${where}`);
    } else if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      console.error(`local LLM server: cannot listen on host ${config.host} (${code}); check LLM_SERVER_HOST`);
    } else {
      console.error(`local LLM server: failed to listen on ${where}: ${(err as Error).message}`);
    }
    process.exit(1);
  }

  console.log(`local LLM server listening on ${server.url} (ttft ${config.ttftMs}ms, ${config.perTokenMs}ms/token, ${config.outputTokens} tokens)`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    // A second Ctrl-C means "now": do not wait for close() again.
    if (stopping) process.exit(130);
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`local LLM server: error while closing on ${signal}: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`local LLM server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
}
