/**
 * The tools of one MCP server as a ToolSource (label `mcp:<name>`), through the MCP SDK's Client:
 * a child process speaking stdio (`command`) or a streamable HTTP endpoint (`url`).
 *
 * - Connects on the first `list()` or `call()`; one connection serves every call at once.
 * - Tool names are `mcp__<server>__<tool>`, the tool's name with anything outside
 *   `[A-Za-z0-9_-]` turned into `_` (cut to 128 characters, `_2`, `_3`, … when two collide); a
 *   map leads back to the server's own name. Only the server config's `tools` are offered when it
 *   lists some.
 * - The list is cached; it is fetched again after a reconnection and replaced when the server
 *   notifies `tools/list_changed`.
 * - A call whose request never left (the stdio process had exited, the HTTP session was gone,
 *   the connection was refused) reconnects and is sent once more; one that was sent and lost
 *   (the connection closed during the call, a timeout) fails retryably and is not repeated here.
 * - Results: text parts joined; other parts described (`[image: image/png]`, resources by URI).
 *   `isError` replies fail with a non-retryable `ToolError` (a `ToolInputError` for the SDK's
 *   input validation), MCP `InvalidParams` errors with a `ToolInputError`, cancellation with a
 *   CancelledFailure, transport and connection errors with a plain (retryable) Error.
 *
 * Config `env` and `headers` go to the child process and the HTTP requests only: no message of
 * this module repeats them.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ErrorCode, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { AgentToolSpec } from '../core/agent';
import type { ToolCallContext, ToolSource } from '../activities/tool-source';
import { DEFAULT_MCP_TIMEOUT_MS, describeMcpServer, isStdioServer, type McpServerConfig, type McpServersConfig } from './config';

/** Longest tool name the Messages API takes. */
const MAX_TOOL_NAME = 128;
/** How often a running call records a heartbeat. */
const HEARTBEAT_MS = 5_000;
/** How long connecting (starting the process, initialize) may take unless options say otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** Most pages of `tools/list` read. */
const MAX_LIST_PAGES = 100;

/** Options of McpToolSource. */
export interface McpToolSourceOptions {
  /** Where a stdio server's stderr goes (default `inherit`: the worker's stderr). */
  stderr?: 'inherit' | 'ignore';
  /** Milliseconds to connect (start the process, initialize); default DEFAULT_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
}

/** The tool name the model sees for `tool` of `server`, unique among `taken` (which it joins). */
export function mcpToolName(server: string, tool: string, taken: Set<string>): string {
  const base = `mcp__${server}__${tool.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, MAX_TOOL_NAME);
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base.slice(0, MAX_TOOL_NAME - `_${i}`.length)}_${i}`;
  taken.add(name);
  return name;
}

/** The text of a tool result: text parts joined by newlines, other parts described. */
export function formatMcpContent(result: Pick<CallToolResult, 'content' | 'structuredContent'>): string {
  const parts = (result.content ?? []).map((c) => {
    switch (c.type) {
      case 'text':
        return c.text;
      case 'image':
      case 'audio':
        return `[${c.type}: ${c.mimeType}]`;
      case 'resource_link':
        return `[resource link: ${c.uri}${c.name && !c.uri.endsWith(c.name) ? ` (${c.name})` : ''}]`;
      case 'resource': {
        const r = c.resource;
        return 'text' in r && typeof r.text === 'string' ? `[resource: ${r.uri}]\n${r.text}` : `[resource: ${r.uri}${r.mimeType ? `, ${r.mimeType}` : ''}]`;
      }
      default:
        return `[${(c as { type: string }).type}]`;
    }
  });
  if (parts.length === 0 && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  return parts.join('\n');
}

/** The listed tools: the specs handed out and the server's name of each. */
interface Catalog {
  specs: AgentToolSpec[];
  byName: Map<string, string>;
}

/** One client and whether its transport closed. */
interface Connection {
  client: Client;
  transport: StdioClientTransport | StreamableHTTPClientTransport;
  closed: boolean;
}

/** The tools of one MCP server. */
export class McpToolSource implements ToolSource {
  readonly label: string;
  private readonly timeoutMs: number;
  private current?: Promise<Connection>;
  private connections = 0;
  private catalog?: Catalog;
  private listing?: Promise<Catalog>;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly config: McpServerConfig,
    private readonly options: McpToolSourceOptions = {},
  ) {
    this.label = `mcp:${name}`;
    this.timeoutMs = config.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS;
  }

  async list(): Promise<AgentToolSpec[]> {
    this.checkOpen();
    return [...(await this.tools()).specs];
  }

  async call(name: string, input: unknown, ctx: ToolCallContext): Promise<string> {
    this.checkOpen();
    if (ctx.signal.aborted) throw this.cancelled(name, ctx.signal);
    let tool = (await this.tools()).byName.get(name);
    if (tool === undefined) tool = (await this.tools(true)).byName.get(name);
    if (tool === undefined) {
      const known = [...(await this.tools()).byName.keys()];
      throw ApplicationFailure.nonRetryable(`unknown tool ${name} (${this.label} offers: ${known.join(', ') || 'none'})`, 'ToolInputError');
    }
    const args = input ?? {};
    if (typeof args !== 'object' || Array.isArray(args)) throw ApplicationFailure.nonRetryable(`${name}: invalid input: must be an object`, 'ToolInputError');

    ctx.heartbeat();
    const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
    try {
      for (let attempt = 1; ; attempt++) {
        const conn = await this.connection();
        let result: CallToolResult;
        try {
          // With CallToolResultSchema the answer is a CallToolResult (the SDK's type also allows the legacy `toolResult` form).
          result = (await conn.client.callTool({ name: tool, arguments: args as Record<string, unknown> }, CallToolResultSchema, {
            signal: ctx.signal,
            timeout: this.timeoutMs,
            onprogress: () => ctx.heartbeat(),
          })) as CallToolResult;
        } catch (err) {
          if (ctx.signal.aborted) throw this.cancelled(name, ctx.signal);
          if (attempt === 1 && neverSent(err)) {
            await this.drop(conn);
            continue;
          }
          throw await this.failure(name, err, conn);
        }
        const text = formatMcpContent(result);
        if (result.isError) {
          const message = text || `${name} failed`;
          // The SDK's McpServer answers arguments its schema rejects this way (spec: so the model can correct them).
          throw ApplicationFailure.nonRetryable(message, /^MCP error -32602\b/.test(message) ? 'ToolInputError' : 'ToolError');
        }
        return text;
      }
    } finally {
      clearInterval(beat);
    }
  }

  /** Closes the client: a stdio server's process is ended (stdin closed, then signals). */
  async close(): Promise<void> {
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    const conn = await current?.catch(() => undefined);
    if (conn) await this.shutdown(conn);
  }

  /** The cached list, or a new one (`refresh`, or none yet); one listing at a time. */
  private async tools(refresh = false): Promise<Catalog> {
    if (this.catalog && !refresh) return this.catalog;
    this.listing ??= this.fetchTools().finally(() => (this.listing = undefined));
    return this.listing;
  }

  private async fetchTools(): Promise<Catalog> {
    for (let attempt = 1; ; attempt++) {
      const conn = await this.connection();
      try {
        const tools: Tool[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < MAX_LIST_PAGES; page++) {
          const r = await conn.client.listTools(cursor === undefined ? undefined : { cursor }, { timeout: this.timeoutMs });
          tools.push(...r.tools);
          cursor = r.nextCursor;
          if (!cursor) break;
        }
        const catalog = this.toCatalog(tools);
        if (!conn.closed) this.catalog = catalog;
        return catalog;
      } catch (err) {
        // Listing is harmless to repeat: once more on a new connection after any connection failure.
        if (attempt === 1 && (neverSent(err) || isConnectionLoss(err))) {
          await this.drop(conn);
          continue;
        }
        throw await this.failure('tools/list', err, conn);
      }
    }
  }

  private toCatalog(tools: Tool[]): Catalog {
    const allowed = this.config.tools ? new Set(this.config.tools) : undefined;
    const offered = tools.filter((t) => !allowed || allowed.has(t.name));
    // Names are given in the order of the servers' names, so a collision's suffix does not depend on the listing's order.
    const taken = new Set<string>();
    const nameOf = new Map([...offered].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((t) => [t.name, mcpToolName(this.name, t.name, taken)]));
    const byName = new Map<string, string>();
    const specs = offered.map((t): AgentToolSpec => {
      const name = nameOf.get(t.name)!;
      byName.set(name, t.name);
      const schema = t.inputSchema as Record<string, unknown>;
      return {
        name,
        description: t.description ?? t.title ?? t.annotations?.title ?? '',
        input_schema: { ...schema, type: 'object', properties: (schema.properties as Record<string, unknown> | undefined) ?? {} },
      };
    });
    return { specs, byName };
  }

  /** The live connection, opened if there is none (or the last one closed). */
  private async connection(): Promise<Connection> {
    for (let opened = 0; ;) {
      this.checkOpen();
      if (!this.current) {
        if (opened++ > 0) throw new Error(`${this.label}: ${describeMcpServer(this.name, this.config)} closed the connection as soon as it was opened`);
        this.current = this.open();
      }
      const p = this.current;
      let conn: Connection;
      try {
        conn = await p;
      } catch (err) {
        if (this.current === p) this.current = undefined;
        throw err;
      }
      if (!conn.closed) return conn;
      if (this.current === p) this.current = undefined;
    }
  }

  private async open(): Promise<Connection> {
    const reconnecting = this.connections++ > 0;
    const client = new Client(
      { name: 'durable-agents', version: '1.0.0' },
      {
        capabilities: {},
        listChanged: {
          tools: {
            debounceMs: 50,
            onChanged: (err, tools) => {
              if (!err && tools && !conn.closed && !this.closed) this.catalog = this.toCatalog(tools);
            },
          },
        },
      },
    );
    const transport = isStdioServer(this.config)
      ? new StdioClientTransport({
          command: this.config.command,
          args: this.config.args,
          env: this.config.env,
          cwd: this.config.cwd,
          stderr: this.options.stderr ?? 'inherit',
        })
      : new StreamableHTTPClientTransport(new URL(this.config.url), this.config.headers ? { requestInit: { headers: this.config.headers } } : undefined);
    const conn: Connection = { client, transport, closed: false };
    client.onclose = () => {
      conn.closed = true;
    };
    // Errors reach the caller through the failed request; the transport's own (e.g. a broken SSE stream) are not ours to log.
    client.onerror = () => undefined;
    try {
      await client.connect(transport, { timeout: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
    } catch (err) {
      conn.closed = true;
      await client.close().catch(() => undefined);
      throw new Error(`${this.label}: cannot connect to ${describeMcpServer(this.name, this.config)}: ${errorText(err)}`);
    }
    if (this.closed) {
      await this.shutdown(conn);
      throw new Error(`${this.label}: the tool source is closed`);
    }
    // A new connection may face a changed server: list its tools again.
    if (reconnecting) this.catalog = undefined;
    return conn;
  }

  /** Forgets `conn` (if current) and closes it. */
  private async drop(conn: Connection): Promise<void> {
    conn.closed = true;
    const current = this.current;
    if (current && (await current.catch(() => undefined)) === conn && this.current === current) this.current = undefined;
    await this.shutdown(conn);
  }

  private async shutdown(conn: Connection): Promise<void> {
    conn.closed = true;
    if (conn.transport instanceof StreamableHTTPClientTransport) await conn.transport.terminateSession().catch(() => undefined);
    await conn.client.close().catch(() => undefined);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.label}: the tool source is closed`);
  }

  /** The activity's own CancelledFailure when the signal carries one. */
  private cancelled(name: string, signal: AbortSignal): CancelledFailure {
    const reason: unknown = signal.reason;
    return reason instanceof CancelledFailure ? reason : new CancelledFailure(`${name} cancelled`);
  }

  /** What a failed request becomes (see the module comment). */
  private async failure(what: string, err: unknown, conn: Connection): Promise<Error> {
    if (err instanceof ApplicationFailure) return err;
    if (err instanceof McpError) {
      // A server's McpError arrives with its "MCP error <code>: " prefix, and the client adds one more.
      const message = err.message.replace(/^(MCP error -?\d+: )\1+/, '$1');
      switch (err.code) {
        case ErrorCode.InvalidParams:
          // The client's check of a result against the tool's outputSchema fails this way too: that is the tool's fault.
          return ApplicationFailure.nonRetryable(`${what}: ${message}`, /structured content/i.test(message) ? 'ToolError' : 'ToolInputError');
        case ErrorCode.InvalidRequest:
        case ErrorCode.MethodNotFound:
          return ApplicationFailure.nonRetryable(`${what}: ${message}`, 'ToolError');
        case ErrorCode.RequestTimeout:
          return new Error(`${this.label}: ${what} timed out after ${this.timeoutMs} ms`);
        case ErrorCode.ConnectionClosed:
          await this.drop(conn);
          return new Error(`${this.label}: the connection closed during ${what}`);
      }
      return new Error(`${this.label}: ${what}: ${message}`);
    }
    if (isConnectionLoss(err)) await this.drop(conn);
    return new Error(`${this.label}: ${what}: ${errorText(err)}`);
  }
}

/** The message of anything thrown (errors of another realm included: fetch's under jest, for one). */
function messageOf(err: unknown): string | undefined {
  const m = (err as { message?: unknown } | null | undefined)?.message;
  return typeof m === 'string' ? m : undefined;
}

/** Whether a request failed before it left, so sending it again cannot repeat a call. */
function neverSent(err: unknown): boolean {
  // The client had no transport any more (the stdio process had exited), or the process's stdin was gone.
  if (messageOf(err) === 'Not connected') return true;
  // The HTTP server no longer knows the session (it restarted): it answered without running anything.
  if (err instanceof StreamableHTTPError && err.code === 404) return true;
  return causeCode(err) === 'ECONNREFUSED';
}

/** Whether the connection is gone (a new one is needed). */
function isConnectionLoss(err: unknown): boolean {
  if (err instanceof McpError) return err.code === ErrorCode.ConnectionClosed;
  if (err instanceof StreamableHTTPError) return err.code === 404;
  const code = causeCode(err);
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET';
}

function causeCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.cause?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

function errorText(err: unknown): string {
  const message = messageOf(err);
  if (message === undefined) return String(err);
  const code = causeCode(err);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** One source per configured server, in the config's order. */
export function createMcpSources(config: McpServersConfig, options: McpToolSourceOptions = {}): McpToolSource[] {
  return Object.entries(config).map(([name, server]) => new McpToolSource(name, server, options));
}
