/**
 * Where an agent's tools come from: the built-in document tools, tools a user registers through
 * AgentsPlugin, and MCP servers. Each is a ToolSource; the tool registry (tool-registry.ts) joins
 * them, answers `describeAgentTools` (the definitions a run's agents will be offered, checked before
 * any LLM call) and dispatches `runAgentTool`.
 */
import type { AgentToolSpec } from '../core/agent';

/** What a tool call may use while it runs. */
export interface ToolCallContext {
  /** Aborted when the activity is cancelled (or its worker shuts down). */
  signal: AbortSignal;
  /** Records liveness (the activity's heartbeat); call it during long work. */
  heartbeat(): void;
}

/**
 * A set of tools. `call` returns the text handed to the model as the tool_result. A failure the
 * model should see (bad input, a missing document, an MCP tool's `isError` reply) is thrown as a
 * non-retryable ApplicationFailure of type `ToolInputError` or `ToolError`: the agent hands its
 * message back as an `is_error` tool_result. Any other error is retried as tool activities are.
 */
export interface ToolSource {
  /** A short name for messages (e.g. `built-in`, `mcp:docs`). */
  readonly label: string;
  /** The tools this source offers (may connect to a server on first use). */
  list(): Promise<AgentToolSpec[]>;
  /** Why this source does not offer `name` now, when it could (e.g. its folder is missing): named in UnknownTool failures. */
  unavailable?(name: string): string | undefined;
  /** Runs one of the listed tools. */
  call(name: string, input: unknown, ctx: ToolCallContext): Promise<string>;
  /** Releases connections and processes (worker shutdown). */
  close?(): Promise<void>;
}

/** A tool a user registers through `new AgentsPlugin({ tools: [...] })`. */
export interface UserTool {
  /** The name the model and specs use: `^[A-Za-z0-9_-]{1,64}$`. */
  name: string;
  description: string;
  /** A JSON Schema whose root is an object (the Messages API's `input_schema`). */
  inputSchema: AgentToolSpec['input_schema'];
  /** Runs the tool; the returned text (or JSON-stringified value) goes back to the model. */
  run(input: unknown, ctx: ToolCallContext): Promise<unknown>;
}
