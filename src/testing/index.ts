/**
 * The package's testing entry point (`durable-agents/testing`): a local, deterministic stand-in
 * for the Anthropic Messages API, for your own tests of workflows built on this package. Point the
 * worker's Anthropic client (or `ANTHROPIC_BASE_URL`) at `server.url`; inject faults, latency and
 * rate limits; assert on what the server received.
 *
 *   const llm = await startLocalLlmServer({ ttftMs: 20, perTokenMs: 0, outputTokens: 10 });
 *   llm.setFaults([{ match: 'flaky', times: 2, fault: { kind: 'status', status: 529 } }]);
 *   // … run a workflow against llm.url …
 *   expect(llm.countMatching('flaky')).toBe(3);
 *   await llm.close();
 *
 * Replies are deterministic in the request: plain text by default; for a forced tool call
 * (`tool_choice: { type: 'tool', name }`) one `tool_use` block whose input is generated from the
 * tool's JSON Schema; for unforced tools a tool turn calling the tools related to the last user
 * text; for `tool_result`s a text quoting them. `stream: true` streams the same reply as SSE. Run it as its own process with `npm run llm-server`
 * (src/testing/local-llm/main.ts), controlled over HTTP by its `/_admin` endpoints.
 */
export { startLocalLlmServer, type LocalLlmServer, type LocalLlmServerOptions } from './local-llm/server';
export { DEFAULT_LATENCY, validateLatency, type LatencyOptions } from './local-llm/messages';
export { validateFaultRules, type Fault, type FaultRule } from './local-llm/faults';
export { defaultErrorType } from './local-llm/http';
export { LocalRateLimiter, rateLimitMessage, type Admission, type RateLimits, type RateNeed } from './local-llm/rate-limits';
export type { LlmStats, RequestRecord } from './local-llm/stats';
export { DEFAULT_ITEMS, MAX_ITEMS, generateToolInput, type JsonSchema, type ToolInputContext } from './local-llm/tool-input';
// A real MCP server with deterministic tools (stdio or streamable HTTP), for tests of MCP tool sources.
export {
  TEST_TICKERS,
  createMcpTestServer,
  newMcpTestStats,
  runMcpStdioServer,
  startMcpHttpServer,
  type McpHttpServer,
  type McpHttpServerOptions,
  type McpTestServerStats,
} from './mcp-server';
