/** Builds the Anthropic SDK client from config: SDK retries off, because Temporal owns retries. */
import Anthropic from '@anthropic-ai/sdk';
import { ProxyTracerProvider, trace } from '@opentelemetry/api';
import type { Config } from '../config';

/**
 * The SDK's `openTelemetry` option. The SDK makes a span per call by default, through the global
 * tracer provider; with none registered the span records nothing, but building its attributes
 * still costs the worker's main thread about 0.1 ms per call (README Performance, session 10). So:
 * whatever `ANTHROPIC_OPEN_TELEMETRY` says when it is set (the SDK reads it), else spans only when
 * the process registered a tracer provider before the client was made.
 */
export function anthropicTelemetry(env: NodeJS.ProcessEnv = process.env): false | undefined {
  if (env.ANTHROPIC_OPEN_TELEMETRY !== undefined) return undefined;
  const provider = trace.getTracerProvider() as Partial<ProxyTracerProvider>;
  // Nothing registered: the global proxy delegates to the API's no-op provider, which every proxy shares.
  return provider.getDelegate?.() === new ProxyTracerProvider().getDelegate() ? false : undefined;
}

/** The real SDK client, pointed at the real API or at the local server (per config). */
export function createAnthropicClient(llm: Config['llm']): Anthropic {
  return new Anthropic({
    apiKey: llm.apiKey,
    baseURL: llm.baseURL,
    maxRetries: 0,
    timeout: llm.requestTimeoutMs,
    // Undefined is the option left out: the SDK then reads ANTHROPIC_OPEN_TELEMETRY.
    openTelemetry: anthropicTelemetry(),
  });
}
