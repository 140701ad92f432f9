/** The Anthropic SDK's spans: off with no tracer provider (they would record nothing), on with one, as ANTHROPIC_OPEN_TELEMETRY says when set. */
import { ProxyTracerProvider, trace, type TracerProvider } from '@opentelemetry/api';
import { anthropicTelemetry, createAnthropicClient } from '../../src/llm/anthropic';

const llm = { apiKey: 'test-key', baseURL: 'http://127.0.0.1:1', requestTimeoutMs: 1000 } as Parameters<typeof createAnthropicClient>[0];
/** The SDK's tracer, when its spans are on (an internal field: what the SDK checks before each span). */
const tracerOf = (c: object) => (c as { _tracer?: unknown })._tracer;

afterEach(() => trace.disable());

test('no tracer provider registered: spans off, so the SDK builds none', () => {
  expect(anthropicTelemetry({})).toBe(false);
  expect(tracerOf(createAnthropicClient(llm))).toBeUndefined();
});

test('a tracer provider registered before the client: the SDK traces as by default', () => {
  // Any provider of the application's (here one handing out no-op tracers).
  const provider: TracerProvider = { getTracer: (name) => new ProxyTracerProvider().getTracer(name) };
  expect(trace.setGlobalTracerProvider(provider)).toBe(true);
  expect(anthropicTelemetry({})).toBeUndefined();
  expect(tracerOf(createAnthropicClient(llm))).toBeDefined();
});

test('ANTHROPIC_OPEN_TELEMETRY set: the SDK reads it, whatever is registered', () => {
  expect(anthropicTelemetry({ ANTHROPIC_OPEN_TELEMETRY: 'true' })).toBeUndefined();
  expect(anthropicTelemetry({ ANTHROPIC_OPEN_TELEMETRY: 'false' })).toBeUndefined();
});
