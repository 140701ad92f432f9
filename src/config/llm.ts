/** ANTHROPIC_* and LLM_*: which LLM the workers call (the real API or the local server) with what defaults, and what calls cost. */
import { z } from 'zod';
import { DEFAULT_MODEL } from '../core/names';
import { DEFAULT_PRICES, pricesSchema, type Price } from '../core/pricing';
import { ConfigError, intFrom, jsonOf } from './env';

/** Where the local Anthropic-compatible server listens unless told otherwise. */
export const DEFAULT_LOCAL_LLM_URL = 'http://127.0.0.1:8787';
/** Key sent to the local LLM server, which only checks that one is present. Never a real secret. */
export const LOCAL_LLM_API_KEY = 'local-dev-key';

/** LLM_RPM: requests per window (a minute) across all workers (0 = unlimited); also the `*` admission limit (flow.ts). */
export const llmRpmVar = intFrom('LLM_RPM', 0).default(0);

export const llmEnv = z
  .object({
    ANTHROPIC_API_KEY: z.string().trim().optional(),
    ANTHROPIC_BASE_URL: z.string().trim().url('ANTHROPIC_BASE_URL must be a URL').optional(),
    LLM_PROVIDER: z.enum(['anthropic', 'local'], { error: 'LLM_PROVIDER must be "anthropic" or "local"' }).optional(),
    LLM_MODEL: z.string().trim().min(1).default(DEFAULT_MODEL),
    LLM_MAX_TOKENS: intFrom('LLM_MAX_TOKENS', 1).default(1024),
    LLM_MAX_CONCURRENT: intFrom('LLM_MAX_CONCURRENT', 1).default(200),
    LLM_RPM: llmRpmVar,
    LLM_REQUEST_TIMEOUT_MS: intFrom('LLM_REQUEST_TIMEOUT_MS', 1).default(600_000),
  })
  .transform((e) => {
    const realKey = e.ANTHROPIC_API_KEY && e.ANTHROPIC_API_KEY !== LOCAL_LLM_API_KEY ? e.ANTHROPIC_API_KEY : undefined;
    const targetsRealApi = e.LLM_PROVIDER === 'anthropic' || /(^|\.)anthropic\.com$/i.test(hostOf(e.ANTHROPIC_BASE_URL));
    if (targetsRealApi && !realKey) {
      throw new ConfigError(
        'ANTHROPIC_API_KEY is missing: the real Anthropic API is targeted (LLM_PROVIDER=anthropic or an anthropic.com base URL); set the key, or unset those to use the local LLM server',
      );
    }
    const provider: 'anthropic' | 'local' = e.LLM_PROVIDER ?? (realKey && !e.ANTHROPIC_BASE_URL ? 'anthropic' : 'local');
    return {
      llm: {
        /** 'anthropic' when a real key is set and no base URL override; 'local' otherwise. */
        provider,
        apiKey: realKey ?? e.ANTHROPIC_API_KEY ?? LOCAL_LLM_API_KEY,
        baseURL: e.ANTHROPIC_BASE_URL ? stripV1(e.ANTHROPIC_BASE_URL) : provider === 'anthropic' ? undefined : DEFAULT_LOCAL_LLM_URL,
        model: e.LLM_MODEL,
        maxTokens: e.LLM_MAX_TOKENS,
        /** Max LLM activities one worker runs at once (maxConcurrentActivityTaskExecutions). */
        maxConcurrent: e.LLM_MAX_CONCURRENT,
        /** Requests per window (a minute) across all workers: strict via llmLimiter, smoothed by the server's task-queue rate (0 = unlimited). */
        rpm: e.LLM_RPM,
        requestTimeoutMs: e.LLM_REQUEST_TIMEOUT_MS,
      },
    };
  });
export type LlmConfig = z.infer<typeof llmEnv>;

/** LLM_PRICES: what calls cost, for run statistics and budgets. */
export const pricesEnv = z.object({ LLM_PRICES: z.string().trim().optional() }).transform((e) => ({
  /** USD per million tokens, per model (defaults merged with LLM_PRICES). */
  prices: { ...DEFAULT_PRICES, ...(e.LLM_PRICES ? parsePrices(e.LLM_PRICES) : {}) },
}));
export type PricesConfig = z.infer<typeof pricesEnv>;

function parsePrices(json: string): Record<string, Price> {
  const r = pricesSchema.safeParse(jsonOf('LLM_PRICES', json));
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
