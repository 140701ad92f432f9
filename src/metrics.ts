/**
 * The project's own Prometheus metrics, recorded through the Temporal runtime's meter so they are
 * served on the same endpoint as the SDK's metrics (METRICS_PORT): LLM calls by model and outcome,
 * retries, tokens, latency, estimated cost, throttles, and this process's flow control.
 */
import type { MetricMeter } from '@temporalio/common';
import type { FlowModelStatus } from './llm/flow';

/** Recorders of LLM metrics. */
export interface LlmMetrics {
  recordSuccess(model: string, tokens: { input: number; output: number }, latencyMs: number, costUsd: number | null, attempt: number): void;
  recordFailure(model: string, errorType: string, attempt: number): void;
  recordCacheHit(model: string, saved: { input: number; output: number }): void;
  recordHedge(model: string): void;
  /** A throttled answer (429/529) waited out within an attempt. */
  recordThrottle(model: string, status: string): void;
  /** This process goes on without the fleet's limiter (it does not answer), or has rejoined it. */
  recordFailOpen(failedOpen: boolean): void;
  /** A call admitted without the limiter while failed open. */
  recordAdmittedWithoutLimiter(): void;
  /** This process's flow control for a model: adaptive concurrency, calls in flight and waiting, advertised limits. */
  recordFlow(s: FlowModelStatus): void;
}

/** Creates the LLM metrics on a meter. */
export function createLlmMetrics(meter: MetricMeter): LlmMetrics {
  const calls = meter.createCounter('llm_calls', 'calls', 'LLM calls by model and outcome');
  const retries = meter.createCounter('llm_retries', 'calls', 'LLM calls that were a retry (attempt > 1)');
  const tokensIn = meter.createCounter('llm_input_tokens', 'tokens', 'input tokens of successful LLM calls');
  const tokensOut = meter.createCounter('llm_output_tokens', 'tokens', 'output tokens of successful LLM calls');
  const latency = meter.createHistogram('llm_latency', 'int', 'ms', 'latency of successful LLM calls');
  // Counters are integers: cost is counted in micro-dollars.
  const cost = meter.createCounter('llm_estimated_cost_microusd', 'microusd', 'estimated cost of LLM calls in millionths of a US dollar');
  const cacheHits = meter.createCounter('llm_cache_hits', 'calls', 'LLM calls answered from the response cache');
  const tokensSaved = meter.createCounter('llm_tokens_saved', 'tokens', 'tokens not paid for thanks to the cache');
  const hedges = meter.createCounter('llm_hedged_requests', 'calls', 'second requests sent because a call was slower than its p95');
  const throttled = meter.createCounter('llm_throttled', 'requests', 'throttled answers (429, 529) waited out within an attempt');
  const flowLimit = meter.createGauge('llm_flow_concurrency_limit', 'float', 'calls', 'adaptive concurrency limit of this worker process, per model');
  const flowInFlight = meter.createGauge('llm_flow_in_flight', 'int', 'calls', 'LLM calls in flight in this worker process, per model');
  const flowWaiting = meter.createGauge('llm_flow_waiting', 'int', 'calls', 'LLM calls waiting for flow control in this worker process, per model');
  const advertised = meter.createGauge('llm_provider_limit', 'int', 'units', "the provider's advertised rate limit per window, per model and bucket");
  const failedOpen = meter.createGauge('llm_limiter_failed_open', 'int', 'state', '1 while this process goes on without the llmLimiter (it does not answer)');
  const withoutLimiter = meter.createCounter('llm_admitted_without_limiter', 'calls', 'LLM calls admitted without the llmLimiter while failed open');
  return {
    recordFailOpen(open) {
      failedOpen.set(open ? 1 : 0);
    },
    recordAdmittedWithoutLimiter() {
      withoutLimiter.add(1);
    },
    recordFlow(s) {
      flowLimit.set(s.concurrencyLimit, { model: s.model });
      flowInFlight.set(s.inFlight, { model: s.model });
      flowWaiting.set(s.waiting, { model: s.model });
      for (const [bucket, limit] of Object.entries(s.advertised)) advertised.set(limit, { model: s.model, bucket });
    },
    recordThrottle(model, status) {
      throttled.add(1, { model, status });
    },
    recordHedge(model) {
      hedges.add(1, { model });
    },
    recordCacheHit(model, saved) {
      calls.add(1, { model, outcome: 'cache_hit' });
      cacheHits.add(1, { model });
      tokensSaved.add(saved.input + saved.output, { model });
    },
    recordSuccess(model, tokens, latencyMs, costUsd, attempt) {
      calls.add(1, { model, outcome: 'success' });
      if (attempt > 1) retries.add(1, { model });
      tokensIn.add(tokens.input, { model });
      tokensOut.add(tokens.output, { model });
      latency.record(Math.max(0, Math.round(latencyMs)), { model });
      if (costUsd !== null) cost.add(Math.round(costUsd * 1e6), { model });
    },
    recordFailure(model, errorType, attempt) {
      calls.add(1, { model, outcome: errorType });
      if (attempt > 1) retries.add(1, { model });
    },
  };
}
