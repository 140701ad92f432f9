/**
 * The one place that reads the environment. Everything else receives a typed, validated `Config`.
 * One zod schema per consumer (temporal.ts; llm.ts: the LLM client and prices; flow.ts; worker.ts;
 * payloads.ts; files.ts; cache.ts; logging.ts; tools.ts), each turning the variables it names into its part
 * of `Config`; `loadConfig()` runs them all and composes the parts.
 * Nothing here runs at import time: call `loadConfig()` from an entry point.
 */
import type { z } from 'zod';
import { cacheEnv, type CacheConfig } from './cache';
import { ConfigError } from './env';
import { filesEnv, type FilesConfig } from './files';
import { flowEnv, type FlowConfig } from './flow';
import { llmEnv, pricesEnv, type LlmConfig, type PricesConfig } from './llm';
import { loggingEnv, type LoggingConfig } from './logging';
import { payloadsEnv, type PayloadsConfig } from './payloads';
import { temporalEnv, type TemporalConfig } from './temporal';
import { toolsEnv, type ToolsConfig } from './tools';
import { workerEnv, type WorkerConfig } from './worker';

export { ConfigError } from './env';
export { DEFAULT_LOCAL_LLM_URL, LOCAL_LLM_API_KEY } from './llm';
export { workflowUiLink, type TemporalConnection } from './temporal';
export type { CacheConfig, FilesConfig, FlowConfig, LlmConfig, LoggingConfig, PayloadsConfig, PricesConfig, TemporalConfig, ToolsConfig, WorkerConfig };

/** Validated configuration for worker, client and scripts: the parts of every consumer. */
export interface Config extends TemporalConfig, LlmConfig, PricesConfig, FlowConfig, WorkerConfig, PayloadsConfig, FilesConfig, CacheConfig, LoggingConfig, ToolsConfig {}

/**
 * One schema per consumer, in the order they run: when no variable is malformed but several
 * sections fail their own checks, the first one's error is thrown (a missing API key before
 * Temporal's connection settings before encryption keys before LLM_PRICES before LLM_LIMITS).
 */
const SECTIONS = {
  llm: llmEnv,
  temporal: temporalEnv,
  payloads: payloadsEnv,
  prices: pricesEnv,
  flow: flowEnv,
  worker: workerEnv,
  files: filesEnv,
  cache: cacheEnv,
  logging: loggingEnv,
  tools: toolsEnv,
};
type Parts = { [K in keyof typeof SECTIONS]: z.output<(typeof SECTIONS)[K]> };

/** Every environment variable the schemas name (Temporal's loader also reads further TEMPORAL_* ones). */
export const CONFIG_ENV_VARS: readonly string[] = [...new Set(Object.values(SECTIONS).flatMap((s) => Object.keys(s.in.shape)))];

/** Reads and validates the environment once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as they do in most shells' `VAR= cmd`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  // Every schema runs, so one message names every malformed variable (one that two consumers
  // read, LLM_RPM, once). A section's own checks (a missing API key, a bad LLM_LIMITS…) throw
  // ConfigErrors of their own, reported only when no variable is malformed.
  const problems = new Set<string>();
  let failure: { err: unknown } | undefined;
  const parts: Partial<Record<keyof Parts, unknown>> = {};
  for (const [name, schema] of Object.entries(SECTIONS) as [keyof Parts, z.ZodType][]) {
    try {
      const r = schema.safeParse(cleaned);
      if (r.success) parts[name] = r.data;
      else for (const i of r.error.issues) problems.add(`${i.path.join('.')}: ${i.message}`);
    } catch (err) {
      failure ??= { err };
    }
  }
  if (problems.size) throw new ConfigError(`Invalid configuration: ${[...problems].join('; ')}`);
  if (failure) throw failure.err;
  const p = parts as Parts;
  return { ...p.temporal, ...p.llm, ...p.prices, ...p.flow, ...p.worker, ...p.payloads, ...p.files, ...p.cache, ...p.logging, ...p.tools };
}
