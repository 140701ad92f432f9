/**
 * A real MCP server with a few deterministic tools, for tests of MCP tool sources and of agents
 * that use them. Built with the MCP SDK's McpServer; speaks stdio or streamable HTTP:
 *
 *   node dist/src/testing/mcp-server.js --stdio                       (or: node --import tsx src/testing/mcp-server.ts --stdio)
 *   node dist/src/testing/mcp-server.js --http --port 8931 [--host 127.0.0.1] [--token T]   → http://127.0.0.1:8931/mcp
 *
 *   const mcp = await startMcpHttpServer({ port: 0 });   // in-process: mcp.url, mcp.stats(), mcp.close()
 *
 * Tools: `lookup_ticker` ({company} → a fixed fictional ticker and price; an unknown company is an
 * `isError` reply), `add` ({a, b}), `math.multiply` ({a, b}: a name with a dot), `fail` (always an
 * `isError` reply), `slow` ({ms}: waits, stops when the call is cancelled), `media` (text, an
 * image, a resource link and an embedded resource), `enable_echo` (turns on the hidden `echo`
 * tool and notifies `tools/list_changed`), `stats` (the counters below, as JSON) and, on stdio
 * only, `crash` (the process exits at once, no reply).
 *
 * Every tool counts its calls (`stats` excepted; a call the SDK rejected for bad arguments never
 * reaches a tool, so it is not counted); `slow` also counts its cancellations. Read them with the
 * `stats` tool, `GET /_stats` of the HTTP server or `stats()` of an in-process one.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** What the server counted. */
export interface McpTestServerStats {
  /** The server's process id (a stdio server's own: a test can check it is gone). */
  pid: number;
  /** `MCP_TEST_LABEL` of the server's environment (tests check a config's env reaches it). */
  label?: string;
  /** Calls per tool that reached the tool. */
  calls: Record<string, number>;
  /** Calls per tool cancelled while they ran. */
  cancelled: Record<string, number>;
}

/** The fictional companies `lookup_ticker` knows (matched by the start of the name, case and punctuation ignored). */
export const TEST_TICKERS: Readonly<Record<string, { company: string; ticker: string; price: number }>> = {
  acme: { company: 'Acme Corporation', ticker: 'ACME', price: 142.17 },
  globex: { company: 'Globex', ticker: 'GLBX', price: 88.4 },
  initech: { company: 'Initech', ticker: 'INTK', price: 23.05 },
  umbrella: { company: 'Umbrella Corporation', ticker: 'UMBR', price: 311.9 },
  wayne: { company: 'Wayne Enterprises', ticker: 'WAYN', price: 509.25 },
};

/** A 1×1 transparent PNG (the `media` tool's image). */
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** Most milliseconds `slow` waits. */
const MAX_SLOW_MS = 600_000;

/** Fresh counters. */
export function newMcpTestStats(): McpTestServerStats {
  return { pid: process.pid, ...(process.env.MCP_TEST_LABEL ? { label: process.env.MCP_TEST_LABEL } : {}), calls: {}, cancelled: {} };
}

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
const toolError = (t: string) => ({ ...text(t), isError: true });

/** Builds one McpServer with the test tools, counting into `stats` (shared by an HTTP server's sessions). */
export function createMcpTestServer(stats: McpTestServerStats = newMcpTestStats(), opts: { allowCrash?: boolean } = {}): McpServer {
  const server = new McpServer({ name: 'durable-agents-test-mcp', version: '1.0.0' });
  const count = (tool: string) => (stats.calls[tool] = (stats.calls[tool] ?? 0) + 1);

  server.registerTool(
    'lookup_ticker',
    { description: 'Look up the stock ticker and the last price of a company.', inputSchema: { company: z.string().min(1).describe('The company name') } },
    async ({ company }) => {
      count('lookup_ticker');
      const key = company.toLowerCase().replace(/[^a-z0-9]/g, '');
      const hit = Object.entries(TEST_TICKERS).find(([k]) => key.startsWith(k))?.[1];
      if (!hit) return toolError(`no ticker known for ${JSON.stringify(company)}`);
      return text(JSON.stringify({ ...hit, currency: 'USD' }));
    },
  );

  server.registerTool('add', { description: 'Add two numbers.', inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => {
    count('add');
    return text(String(a + b));
  });

  server.registerTool('math.multiply', { description: 'Multiply two numbers.', inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => {
    count('math.multiply');
    return text(String(a * b));
  });

  server.registerTool('fail', { description: 'Always fails (an isError reply).', inputSchema: { message: z.string().optional() } }, async ({ message }) => {
    count('fail');
    return toolError(message ?? 'this tool always fails');
  });

  server.registerTool(
    'slow',
    { description: 'Wait `ms` milliseconds, then answer; stops when the call is cancelled.', inputSchema: { ms: z.number().int().min(0).max(MAX_SLOW_MS) } },
    async ({ ms }, extra) => {
      count('slow');
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          stats.cancelled.slow = (stats.cancelled.slow ?? 0) + 1;
          reject(new Error('cancelled'));
        };
        const timer = setTimeout(() => {
          extra.signal.removeEventListener('abort', done);
          resolve();
        }, ms);
        if (extra.signal.aborted) done();
        else extra.signal.addEventListener('abort', done, { once: true });
      });
      return text(`slept ${ms} ms`);
    },
  );

  server.registerTool('media', { description: 'Answers with text, an image, a resource link and an embedded resource.' }, async () => {
    count('media');
    return {
      content: [
        { type: 'text' as const, text: 'Acme price chart' },
        { type: 'image' as const, data: PNG_1X1, mimeType: 'image/png' },
        { type: 'resource_link' as const, uri: 'test://charts/acme.csv', name: 'acme.csv', mimeType: 'text/csv' },
        { type: 'resource' as const, resource: { uri: 'test://notes/acme.txt', mimeType: 'text/plain', text: 'Acme notes: steady growth.' } },
      ],
    };
  });

  const echo = server.registerTool('echo', { description: 'Echo the text back.', inputSchema: { text: z.string() } }, async ({ text: t }) => {
    count('echo');
    return text(t);
  });
  echo.disable();

  server.registerTool('enable_echo', { description: 'Turn on the echo tool (the tool list changes).' }, async () => {
    count('enable_echo');
    echo.enable();
    return text('echo enabled');
  });

  server.registerTool('stats', { description: 'The calls this server counted, as JSON.' }, async () => text(JSON.stringify(stats)));

  if (opts.allowCrash) {
    server.registerTool('crash', { description: 'Exits the server process at once (no reply).' }, async () => {
      count('crash');
      process.exit(3);
    });
  }
  return server;
}

/** Serves the test tools on this process's stdin/stdout; exits when stdin ends (the client closed). */
export async function runMcpStdioServer(): Promise<void> {
  const server = createMcpTestServer(newMcpTestStats(), { allowCrash: true });
  process.stdin.on('end', () => process.exit(0));
  await server.connect(new StdioServerTransport());
}

/** Options of startMcpHttpServer. */
export interface McpHttpServerOptions {
  /** 0 (the default): a free port. */
  port?: number;
  host?: string;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
}

/** A running streamable HTTP test server. */
export interface McpHttpServer {
  /** The MCP endpoint, `http://host:port/mcp`. */
  url: string;
  port: number;
  /** A copy of the counters (shared by every session). */
  stats(): McpTestServerStats;
  /** Sessions open now. */
  sessions(): number;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const rpcError = (res: ServerResponse, status: number, message: string) => sendJson(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null });

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  return raw ? JSON.parse(raw) : undefined;
}

/** Serves the test tools over streamable HTTP (stateful sessions) at `/mcp`; `GET /_stats` answers the counters. */
export async function startMcpHttpServer(opts: McpHttpServerOptions = {}): Promise<McpHttpServer> {
  const stats = newMcpTestStats();
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/_stats' && req.method === 'GET') return sendJson(res, 200, stats);
    if (path !== '/mcp') return sendJson(res, 404, { error: 'not found' });
    if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) return sendJson(res, 401, { error: 'unauthorized' });
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const session = sessions.get(sid);
      if (!session) return rpcError(res, 404, 'Session not found');
      return session.transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return rpcError(res, 400, 'Bad Request: no session id');
    let body: unknown;
    try {
      body = await readJson(req);
    } catch {
      return sendJson(res, 400, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });
    }
    if (!isInitializeRequest(body)) return rpcError(res, 400, 'Bad Request: no session id');
    const server = createMcpTestServer(stats);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, { transport, server }),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(err) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/mcp`,
    port,
    stats: () => structuredClone(stats),
    sessions: () => sessions.size,
    close: async () => {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.all(open.map(async (s) => s.server.close().catch(() => undefined)));
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** `--stdio`, or `--http [--port N] [--host H] [--token T]`. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  if (argv.includes('--stdio')) return runMcpStdioServer();
  if (argv.includes('--http')) {
    const port = Number(argValue(argv, '--port') ?? 0);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be a whole number from 0 to 65535');
    const server = await startMcpHttpServer({ port, host: argValue(argv, '--host'), token: argValue(argv, '--token') });
    console.log(`MCP test server listening on ${server.url}`);
    const stop = () => void server.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return;
  }
  throw new Error('usage: mcp-server --stdio | --http [--port N] [--host H] [--token T]');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`MCP test server: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
