/** How fast LLM calls go: admission limits shared by the fleet, flow control in each worker, and hedging. */
import { z } from 'zod';
import { modelLimitsSchema, type ModelLimits } from '../core/limiter';
import { ConfigError, flagFrom, intFrom, jsonOf } from './env';
import { llmRpmVar } from './llm';

export const flowEnv = z
  .object({
    LLM_RPM: llmRpmVar,
    LLM_ITPM: intFrom('LLM_ITPM', 0).default(0),
    LLM_OTPM: intFrom('LLM_OTPM', 0).default(0),
    LLM_ADAPTIVE_MAX: intFrom('LLM_ADAPTIVE_MAX', 0).default(0),
    LLM_LIMITS: z.string().trim().optional(),
    LLM_LIMIT_WINDOW_MS: intFrom('LLM_LIMIT_WINDOW_MS', 100).default(60_000),
    LLM_FLOW_CONTROL: z.enum(['on', 'off'], { error: 'LLM_FLOW_CONTROL must be "on" or "off"' }).default('on'),
    LLM_FLOW_INITIAL_CONCURRENCY: intFrom('LLM_FLOW_INITIAL_CONCURRENCY', 1).default(16),
    LLM_THROTTLE_DEADLINE_MS: intFrom('LLM_THROTTLE_DEADLINE_MS', 1000).default(600_000),
    LLM_HEDGE: flagFrom('0'),
    LLM_HEDGE_PERCENTILE: intFrom('LLM_HEDGE_PERCENTILE', 50).default(95),
  })
  .transform((e) => ({
    /** Admission limits per model (`*` = any model), enforced by the llmLimiter workflow across workers. */
    limits: limitsFrom(e),
    limitWindowMs: e.LLM_LIMIT_WINDOW_MS,
    /** Flow control in each worker process (on by default): adaptive concurrency and token buckets learned from the provider. */
    flow: { enabled: e.LLM_FLOW_CONTROL === 'on', initialConcurrency: e.LLM_FLOW_INITIAL_CONCURRENCY, throttleDeadlineMs: e.LLM_THROTTLE_DEADLINE_MS },
    /** Hedge calls slower than this percentile of recent latencies (undefined = off). */
    hedgePercentile: e.LLM_HEDGE ? Math.min(99, e.LLM_HEDGE_PERCENTILE) : undefined,
  }));
export type FlowConfig = z.infer<typeof flowEnv>;

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
    const r = z.record(z.string(), modelLimitsSchema).safeParse(jsonOf('LLM_LIMITS', e.LLM_LIMITS));
    if (!r.success) throw new ConfigError('LLM_LIMITS must map model names (or "*") to {"rpm", "itpm", "otpm", "adaptiveMax"} whole numbers');
    perModel = r.data;
  }
  return Object.keys(star).length ? { '*': star, ...perModel } : perModel;
}
