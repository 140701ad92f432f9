/**
 * The one place that reads the environment. Everything else receives a typed, validated `Config`.
 * Nothing here runs at import time: call `loadConfig()` from an entry point.
 */
import path from 'node:path';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { DEFAULT_MODEL, DEFAULT_TASK_QUEUE } from './core/names';
import { parseKeys } from './data/encryption-codec';
import { DEFAULT_PRICES, pricesSchema, type Price } from './core/pricing';
import { modelLimitsSchema, type ModelLimits } from './core/limiter';

/** Where the local Anthropic-compatible server listens unless told otherwise. */
export const DEFAULT_LOCAL_LLM_URL = 'http://127.0.0.1:8787';
/** Key sent to the local LLM server, which only checks that one is present. Never a real secret. */
export const LOCAL_LLM_API_KEY = 'local-dev-key';

const intFrom = (name: string, min: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min, `${name} must be at least ${min}`);

const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().trim().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).optional(),
  TEMPORAL_UI_URL: z.string().trim().url('TEMPORAL_UI_URL must be a URL').optional(),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default(DEFAULT_TASK_QUEUE),
  ANTHROPIC_API_KEY: z.string().trim().optional(),
  ANTHROPIC_BASE_URL: z.string().trim().url('ANTHROPIC_BASE_URL must be a URL').optional(),
  LLM_PROVIDER: z.enum(['anthropic', 'local'], { error: 'LLM_PROVIDER must be "anthropic" or "local"' }).optional(),
  LLM_MODEL: z.string().trim().min(1).default(DEFAULT_MODEL),
  LLM_MAX_TOKENS: intFrom('LLM_MAX_TOKENS', 1).default(1024),
  LLM_MAX_CONCURRENT: intFrom('LLM_MAX_CONCURRENT', 1).default(200),
  LLM_RPM: intFrom('LLM_RPM', 0).default(0),
  LLM_REQUEST_TIMEOUT_MS: intFrom('LLM_REQUEST_TIMEOUT_MS', 1).default(600_000),
  WORKER_ROLES: z
    .string()
    .default('workflows,llm,tools')
    .transform((s) => s.split(',').map((r) => r.trim()).filter(Boolean))
    .pipe(z.array(z.enum(['workflows', 'llm', 'tools'], { error: 'WORKER_ROLES items must be workflows, llm or tools' })).min(1)),
  TOOLS_MAX_CONCURRENT: intFrom('TOOLS_MAX_CONCURRENT', 1).default(2),
  RUNS_DIR: z.string().trim().min(1).default('runs'),
  DOCUMENT_ROOTS: z
    .string()
    .default('examples/docs')
    .transform((s) => s.split(',').map((r) => r.trim()).filter(Boolean))
    .pipe(z.array(z.string()).min(1, 'DOCUMENT_ROOTS must name at least one folder')),
  WORKFLOW_BUNDLE: z.string().trim().min(1).optional(),
  PAYLOAD_ENCRYPTION_KEYS: z.string().trim().optional(),
  PAYLOAD_ENCRYPTION_KEY_ID: z.string().trim().min(1).optional(),
  PAYLOAD_STORE_DIR: z.string().trim().min(1).default('runs/payloads'),
  PAYLOAD_OFFLOAD_BYTES: intFrom('PAYLOAD_OFFLOAD_BYTES', 0).default(256 * 1024),
  PAYLOAD_MAX_AGE_SECONDS: intFrom('PAYLOAD_MAX_AGE_SECONDS', 3600).default(30 * 86_400),
  LLM_ITPM: intFrom('LLM_ITPM', 0).default(0),
  LLM_OTPM: intFrom('LLM_OTPM', 0).default(0),
  LLM_ADAPTIVE_MAX: intFrom('LLM_ADAPTIVE_MAX', 0).default(0),
  LLM_LIMITS: z.string().trim().optional(),
  LLM_LIMIT_WINDOW_MS: intFrom('LLM_LIMIT_WINDOW_MS', 100).default(60_000),
  LLM_HEDGE: z.enum(['0', '1', 'true', 'false']).default('0'),
  LLM_HEDGE_PERCENTILE: intFrom('LLM_HEDGE_PERCENTILE', 50).default(95),
  CACHE_DIR: z.string().trim().min(1).default('runs/cache'),
  CACHE_MAX_AGE_SECONDS: intFrom('CACHE_MAX_AGE_SECONDS', 60).default(30 * 86_400),
  LLM_JOURNAL_DIR: z.string().trim().min(1).default('runs/journal'),
  LLM_FLOW_CONTROL: z.enum(['on', 'off'], { error: 'LLM_FLOW_CONTROL must be "on" or "off"' }).default('on'),
  LLM_FLOW_INITIAL_CONCURRENCY: intFrom('LLM_FLOW_INITIAL_CONCURRENCY', 1).default(16),
  LLM_THROTTLE_DEADLINE_MS: intFrom('LLM_THROTTLE_DEADLINE_MS', 1000).default(600_000),
  TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS: intFrom('TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS', 0).default(0),
  LLM_HEARTBEAT_THROTTLE_MS: intFrom('LLM_HEARTBEAT_THROTTLE_MS', 100)
    .refine((n) => n <= 8000, 'LLM_HEARTBEAT_THROTTLE_MS must be at most 8000 (the heartbeat timeout is 10 s)')
    .default(5000),
  METRICS_PORT: intFrom('METRICS_PORT', 0).default(0),
  LLM_PRICES: z.string().trim().optional(),
  LOG_FORMAT: z.enum(['json', 'pretty'], { error: 'LOG_FORMAT must be json or pretty' }).default('json'),
  LOG_PROMPTS: z.enum(['0', '1', 'true', 'false']).default('0'),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
});

/** How to reach Temporal, for both NativeConnection (worker) and Connection (client). */
export interface TemporalConnection {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** Validated configuration for worker, client and scripts. */
export interface Config {
  temporal: {
    address: string;
    namespace: string;
    uiUrl: string;
    taskQueue: string;
    /** TLS, API key and gRPC metadata from @temporalio/envconfig (profile file and TEMPORAL_* variables). */
    connection: TemporalConnection;
  };
  llm: {
    /** 'anthropic' when a real key is set and no base URL override; 'local' otherwise. */
    provider: 'anthropic' | 'local';
    apiKey: string;
    baseURL?: string;
    model: string;
    maxTokens: number;
    /** Max LLM activities one worker runs at once (maxConcurrentActivityTaskExecutions). */
    maxConcurrent: number;
    /** Requests per window (a minute) across all workers: strict via llmLimiter, smoothed by the server's task-queue rate (0 = unlimited). */
    rpm: number;
    requestTimeoutMs: number;
  };
  worker: {
    roles: ('workflows' | 'llm' | 'tools')[];
    /** Longest gap between heartbeats sent to the server: how fast a cancellation reaches a call, against heartbeat RPC load. */
    heartbeatThrottleMs: number;
    toolsMaxConcurrent: number;
    /** A prebuilt workflow bundle (e.g. from CI or tests) instead of bundling at start. */
    workflowBundlePath?: string;
  };
  payloads: {
    /** AES-256-GCM encryption of every payload; absent = plaintext. */
    encryption?: { keys: Map<string, Buffer>; currentKeyId: string };
    /** Payloads larger than this go to storeDir instead of history (0 = never). */
    offloadBytes: number;
    storeDir: string;
    /** Offloaded payloads neither written nor read for this long are deleted by the LLM workers. */
    maxAgeMs?: number;
  };
  /** Where run artifacts (report.md, timeline.html) go. */
  runsDir: string;
  /** The only folders tool activities may read files from (absolute). */
  documentRoots: string[];
  logLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  logFormat: 'json' | 'pretty';
  /** Include prompt previews in debug logs (off: prompts may hold user data). */
  logPrompts: boolean;
  /** Prometheus endpoint of the worker (0 = off). */
  metricsPort: number;
  /** USD per million tokens, per model (defaults merged with LLM_PRICES). */
  prices: Record<string, Price>;
  /** Admission limits per model (`*` = any model), enforced by the llmLimiter workflow across workers. */
  limits: Record<string, ModelLimits>;
  limitWindowMs: number;
  /** Where the response cache lives. */
  cacheDir: string;
  /** Cache entries older than this are deleted by the workers (whatever a run's TTL). */
  cacheMaxAgeMs: number;
  /** Hedge calls slower than this percentile of recent latencies (undefined = off). */
  hedgePercentile?: number;
  /** Flow control in each worker process (on by default): adaptive concurrency and token buckets learned from the provider. */
  flow: { enabled: boolean; initialConcurrency: number; throttleDeadlineMs: number };
  /** Where paid answers wait for a retry after a crash (share it between workers, like the cache). */
  journalDir: string;
  /** TEST ONLY (TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS): pause between an answer and the activity's completion. */
  testOnlyPauseAfterAnswerMs: number;
}

/** Thrown for invalid configuration; its message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the environment once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as they do in most shells' `VAR= cmd`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const realKey = e.ANTHROPIC_API_KEY && e.ANTHROPIC_API_KEY !== LOCAL_LLM_API_KEY ? e.ANTHROPIC_API_KEY : undefined;
  const targetsRealApi = e.LLM_PROVIDER === 'anthropic' || /(^|\.)anthropic\.com$/i.test(hostOf(e.ANTHROPIC_BASE_URL));
  if (targetsRealApi && !realKey) {
    throw new ConfigError('ANTHROPIC_API_KEY is missing: the real Anthropic API is targeted (LLM_PROVIDER=anthropic or an anthropic.com base URL); set the key, or unset those to use the local LLM server');
  }
  const provider: 'anthropic' | 'local' = e.LLM_PROVIDER ?? (realKey && !e.ANTHROPIC_BASE_URL ? 'anthropic' : 'local');
  // Temporal's own config loader: a profile from temporal.toml (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE)
  // overridden by TEMPORAL_ADDRESS / _NAMESPACE / _API_KEY / _TLS_* — the same rules as the temporal CLI.
  let connect: ReturnType<typeof loadClientConnectConfig>;
  try {
    connect = loadClientConnectConfig({ overrideEnvVars: cleaned as Record<string, string> });
  } catch (err) {
    throw new ConfigError(`Invalid Temporal connection configuration: ${(err as Error).message}`);
  }
  const co = connect.connectionOptions;
  const address = co.address ?? e.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const uiPortGuess = guessUiUrl(address);
  return {
    temporal: {
      address,
      namespace: connect.namespace ?? e.TEMPORAL_NAMESPACE ?? 'default',
      connection: {
        address,
        ...(co.tls !== undefined && co.tls !== null ? { tls: co.tls } : {}),
        ...(co.apiKey ? { apiKey: co.apiKey as string } : {}),
        ...(co.metadata ? { metadata: co.metadata as Record<string, string> } : {}),
      },
      uiUrl: (e.TEMPORAL_UI_URL ?? uiPortGuess).replace(/\/$/, ''),
      taskQueue: e.TEMPORAL_TASK_QUEUE,
    },
    llm: {
      provider,
      apiKey: realKey ?? e.ANTHROPIC_API_KEY ?? LOCAL_LLM_API_KEY,
      baseURL: e.ANTHROPIC_BASE_URL ? stripV1(e.ANTHROPIC_BASE_URL) : provider === 'anthropic' ? undefined : DEFAULT_LOCAL_LLM_URL,
      model: e.LLM_MODEL,
      maxTokens: e.LLM_MAX_TOKENS,
      maxConcurrent: e.LLM_MAX_CONCURRENT,
      rpm: e.LLM_RPM,
      requestTimeoutMs: e.LLM_REQUEST_TIMEOUT_MS,
    },
    worker: { roles: e.WORKER_ROLES, heartbeatThrottleMs: e.LLM_HEARTBEAT_THROTTLE_MS, toolsMaxConcurrent: e.TOOLS_MAX_CONCURRENT, workflowBundlePath: e.WORKFLOW_BUNDLE },
    payloads: {
      encryption: e.PAYLOAD_ENCRYPTION_KEYS ? encryptionFrom(e.PAYLOAD_ENCRYPTION_KEYS, e.PAYLOAD_ENCRYPTION_KEY_ID) : undefined,
      offloadBytes: e.PAYLOAD_OFFLOAD_BYTES,
      storeDir: path.resolve(e.PAYLOAD_STORE_DIR),
      maxAgeMs: e.PAYLOAD_MAX_AGE_SECONDS * 1000,
    },
    runsDir: path.resolve(e.RUNS_DIR),
    documentRoots: e.DOCUMENT_ROOTS.map((r) => path.resolve(r)),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    logPrompts: e.LOG_PROMPTS === '1' || e.LOG_PROMPTS === 'true',
    metricsPort: e.METRICS_PORT,
    prices: { ...DEFAULT_PRICES, ...(e.LLM_PRICES ? parsePrices(e.LLM_PRICES) : {}) },
    limits: limitsFrom(e),
    limitWindowMs: e.LLM_LIMIT_WINDOW_MS,
    cacheDir: path.resolve(e.CACHE_DIR),
    cacheMaxAgeMs: e.CACHE_MAX_AGE_SECONDS * 1000,
    hedgePercentile: e.LLM_HEDGE === '1' || e.LLM_HEDGE === 'true' ? Math.min(99, e.LLM_HEDGE_PERCENTILE) : undefined,
    journalDir: path.resolve(e.LLM_JOURNAL_DIR),
    flow: { enabled: e.LLM_FLOW_CONTROL === 'on', initialConcurrency: e.LLM_FLOW_INITIAL_CONCURRENCY, throttleDeadlineMs: e.LLM_THROTTLE_DEADLINE_MS },
    testOnlyPauseAfterAnswerMs: e.TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS,
  };
}

/** Keys from `id:base64,...`; the current key is PAYLOAD_ENCRYPTION_KEY_ID or the first listed. */
function encryptionFrom(spec: string, currentId: string | undefined): { keys: Map<string, Buffer>; currentKeyId: string } {
  const keys = parseKeys(spec);
  for (const [id, k] of keys) {
    if (k.length !== 32) throw new ConfigError(`PAYLOAD_ENCRYPTION_KEYS: key "${id}" must be base64 of 32 bytes (e.g. \`openssl rand -base64 32\`), got ${k.length} bytes`);
  }
  const currentKeyId = currentId ?? [...keys.keys()][0];
  if (!keys.has(currentKeyId)) throw new ConfigError(`PAYLOAD_ENCRYPTION_KEY_ID "${currentKeyId}" is not among PAYLOAD_ENCRYPTION_KEYS`);
  return { keys, currentKeyId };
}

/** `*` limits (per window) from LLM_RPM / LLM_ITPM / LLM_OTPM / LLM_ADAPTIVE_MAX, then per-model LLM_LIMITS JSON. */
function limitsFrom(e: { LLM_ITPM: number; LLM_OTPM: number; LLM_RPM: number; LLM_ADAPTIVE_MAX: number; LLM_LIMITS?: string }): Record<string, ModelLimits> {
  const star: ModelLimits = {
    ...(e.LLM_ITPM ? { itpm: e.LLM_ITPM } : {}),
    ...(e.LLM_OTPM ? { otpm: e.LLM_OTPM } : {}),
    ...(e.LLM_RPM ? { rpm: e.LLM_RPM } : {}),
    ...(e.LLM_ADAPTIVE_MAX ? { adaptiveMax: e.LLM_ADAPTIVE_MAX } : {}),
  };
  let perModel: Record<string, ModelLimits> = {};
  if (e.LLM_LIMITS) {
    let raw: unknown;
    try {
      raw = JSON.parse(e.LLM_LIMITS);
    } catch (err) {
      throw new ConfigError(`LLM_LIMITS is not valid JSON: ${(err as Error).message}`);
    }
    const r = z.record(z.string(), modelLimitsSchema).safeParse(raw);
    if (!r.success) throw new ConfigError('LLM_LIMITS must map model names (or "*") to {"rpm", "itpm", "otpm", "adaptiveMax"} whole numbers');
    perModel = r.data;
  }
  return Object.keys(star).length ? { '*': star, ...perModel } : perModel;
}

function parsePrices(json: string): Record<string, Price> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`LLM_PRICES is not valid JSON: ${(err as Error).message}`);
  }
  const r = pricesSchema.safeParse(raw);
  if (!r.success) throw new ConfigError('LLM_PRICES must map model names to {"input": USD per Mtok, "output": USD per Mtok}');
  return r.data;
}

function hostOf(url: string | undefined): string {
  try {
    return url ? new URL(url).hostname : '';
  } catch {
    return '';
  }
}

/** The SDK appends /v1/messages itself. */
function stripV1(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** The dev server serves its Web UI on gRPC port + 1000 (7233 → 8233). */
function guessUiUrl(address: string): string {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) return 'http://127.0.0.1:8233';
  const host = m[1] === '0.0.0.0' ? '127.0.0.1' : m[1];
  return `http://${host}:${Number(m[2]) + 1000}`;
}

/** The Web UI page of one workflow run. */
export function workflowUiLink(config: Config, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
