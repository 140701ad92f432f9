/**
 * The configuration of the MCP servers a tools worker offers tools from: `MCP_SERVERS` (a JSON
 * object) or AgentsPlugin's option, one entry per server:
 *
 *   { "docs":   { "command": "node", "args": ["docs-server.js"], "env": { "TOKEN": "…" }, "cwd": "/srv" },
 *     "search": { "url": "https://search.example/mcp", "headers": { "Authorization": "Bearer …" },
 *                 "tools": ["search"], "timeoutMs": 30000 } }
 *
 * A server is started as a child process speaking stdio (`command`) or reached over streamable
 * HTTP (`url`). `env` and `headers` values often carry tokens: nothing here (messages included)
 * repeats them; `describeMcpServer` gives a line that is safe to log.
 * Pure: no I/O.
 */
import { z } from 'zod';
import { formatIssues, nonEmptyList, nonEmptyString, plainString, wholeNumber } from '../core/schema';

/** Allowed server names: they become part of tool names (`mcp__<name>__<tool>`). */
export const MCP_SERVER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** How long one tool call may take unless the server's `timeoutMs` says otherwise. */
export const DEFAULT_MCP_TIMEOUT_MS = 60_000;
/** Bounds of `timeoutMs`. */
export const MIN_MCP_TIMEOUT_MS = 100;
export const MAX_MCP_TIMEOUT_MS = 3_600_000;

/** What every server may set. */
export interface McpServerCommon {
  /** Only these tools (the server's own names) are offered; all of them when unset. */
  tools?: string[];
  /** Most milliseconds one call may take (default DEFAULT_MCP_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** A server started as a child process, speaking MCP over its stdin/stdout. */
export interface McpStdioServerConfig extends McpServerCommon {
  command: string;
  args?: string[];
  /** Added to a minimal inherited environment (PATH, HOME, …); values may be secrets. */
  env?: Record<string, string>;
  cwd?: string;
}

/** A server reached over streamable HTTP. */
export interface McpHttpServerConfig extends McpServerCommon {
  url: string;
  /** Sent with every request (e.g. Authorization); values may be secrets. */
  headers?: Record<string, string>;
}

export type McpServerConfig = McpStdioServerConfig | McpHttpServerConfig;

/** Servers by name. */
export type McpServersConfig = Record<string, McpServerConfig>;

/** Whether a server is started as a child process. */
export function isStdioServer(config: McpServerConfig): config is McpStdioServerConfig {
  return 'command' in config && typeof config.command === 'string';
}

const stringMap = (what: string) => z.record(z.string(), plainString(), { error: `must be an object of ${what}` });

const httpUrl = plainString().refine(
  (s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  // The URL itself is not repeated: it may carry a token in its query.
  { error: 'must be an http:// or https:// URL' },
);

const STDIO_ONLY = ['args', 'env', 'cwd'] as const;
const HTTP_ONLY = ['headers'] as const;

const serverSchema = z
  .strictObject(
    {
      command: nonEmptyString().optional(),
      args: z.array(plainString(), { error: 'must be a list of strings' }).optional(),
      env: stringMap('strings').optional(),
      cwd: nonEmptyString().optional(),
      url: httpUrl.optional(),
      headers: stringMap('strings').optional(),
      tools: nonEmptyList(nonEmptyString(), 'tool names').optional(),
      timeoutMs: wholeNumber([MIN_MCP_TIMEOUT_MS, `${MIN_MCP_TIMEOUT_MS} ms`], [MAX_MCP_TIMEOUT_MS, `${MAX_MCP_TIMEOUT_MS} ms`]).optional(),
    },
    { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : 'must be an object with "command" or "url"') },
  )
  .superRefine((s, ctx) => {
    const has = (k: string) => (s as Record<string, unknown>)[k] !== undefined;
    if (has('command') && has('url')) {
      ctx.addIssue({ code: 'custom', message: 'must set either "command" (stdio) or "url" (streamable HTTP), not both' });
    } else if (!has('command') && !has('url')) {
      ctx.addIssue({ code: 'custom', message: 'must set "command" (a stdio server) or "url" (a streamable HTTP server)' });
    } else if (has('url')) {
      for (const k of STDIO_ONLY.filter(has)) ctx.addIssue({ code: 'custom', path: [k], message: 'is only for stdio servers ("command")' });
    } else {
      for (const k of HTTP_ONLY.filter(has)) ctx.addIssue({ code: 'custom', path: [k], message: 'is only for HTTP servers ("url")' });
    }
  });

const serversSchema = z.record(z.string().regex(MCP_SERVER_NAME_PATTERN), serverSchema, {
  error: (issue) =>
    issue.code === 'invalid_key'
      ? `server names must match ${MCP_SERVER_NAME_PATTERN} (letters, digits, "_" and "-", at most 32)`
      : issue.code === 'invalid_type'
        ? 'must be an object of servers by name'
        : undefined,
});

/**
 * Validates MCP server configuration: an object of servers by name, or its JSON text (as
 * `MCP_SERVERS` holds it; empty text or undefined is no servers). Throws an Error naming every
 * problem (never repeating a value, which may be a secret).
 */
export function parseMcpServers(raw: unknown): McpServersConfig {
  let value = raw;
  if (value === undefined || value === null) return {};
  if (typeof value === 'string') {
    if (!value.trim()) return {};
    try {
      value = JSON.parse(value);
    } catch {
      // JSON.parse's message quotes the text around the mistake: it may hold a token.
      throw new Error('invalid MCP servers: MCP_SERVERS is not valid JSON');
    }
  }
  const r = serversSchema.safeParse(value);
  if (!r.success) throw new Error(`invalid MCP servers: ${formatIssues(r.error)}`);
  return Object.fromEntries(
    Object.entries(r.data).map(([name, s]): [string, McpServerConfig] => {
      const common: McpServerCommon = { ...(s.tools ? { tools: s.tools } : {}), ...(s.timeoutMs !== undefined ? { timeoutMs: s.timeoutMs } : {}) };
      return [
        name,
        s.command !== undefined
          ? { command: s.command, ...(s.args ? { args: s.args } : {}), ...(s.env ? { env: s.env } : {}), ...(s.cwd ? { cwd: s.cwd } : {}), ...common }
          : { url: s.url!, ...(s.headers ? { headers: s.headers } : {}), ...common },
      ];
    }),
  );
}

/**
 * A line about one server that is safe to log: its kind and command or URL origin and path
 * (no arguments, query, credentials, environment or headers: any of them may hold a token).
 */
export function describeMcpServer(name: string, config: McpServerConfig): string {
  if (isStdioServer(config)) return `${name} (stdio: ${config.command})`;
  let where = '(invalid URL)';
  try {
    const u = new URL(config.url);
    where = `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    // Left as is.
  }
  return `${name} (http: ${where})`;
}
