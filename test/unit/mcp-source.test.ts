/**
 * MCP tools as a ToolSource, against the real test MCP server (src/testing/mcp-server.ts) as a
 * child process over stdio and in-process over streamable HTTP: names, schemas, results, error
 * types, cancellation, timeouts, reconnection, processes ended; and the servers' configuration.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describeMcpServer, parseMcpServers, type McpServerConfig, type McpStdioServerConfig } from '../../src/mcp/config';
import { createMcpSources, formatMcpContent, mcpToolName, McpToolSource } from '../../src/mcp/source';
import { startMcpHttpServer, type McpHttpServer, type McpTestServerStats } from '../../src/testing/mcp-server';
import { rejectionOf } from '../helpers/rejection';

const ROOT = path.resolve(__dirname, '../..');

/** The test server as a stdio child: node with tsx's loader, one process (its pid is the server's). */
const stdioServer = (extra: Partial<McpStdioServerConfig> = {}): McpStdioServerConfig => ({
  command: process.execPath,
  args: ['--import', 'tsx', path.join(ROOT, 'src/testing/mcp-server.ts'), '--stdio'],
  cwd: ROOT,
  ...extra,
});

const ctx = (signal: AbortSignal = new AbortController().signal) => ({ signal, heartbeat: () => undefined });

const failureOf = (p: Promise<unknown>) => rejectionOf<Error>(p);

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The server's counters, through its `stats` tool. */
async function statsOf(source: McpToolSource): Promise<McpTestServerStats> {
  return JSON.parse(await source.call(`mcp__${source.name}__stats`, {}, ctx())) as McpTestServerStats;
}

const sources: McpToolSource[] = [];
/** A source closed after the file's tests. */
function track(source: McpToolSource): McpToolSource {
  sources.push(source);
  return source;
}
afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
});

let http: McpHttpServer;
beforeAll(async () => {
  http = await startMcpHttpServer({ port: 0, token: 'test-token-123' });
});
afterAll(async () => {
  await http.close();
});

const httpConfig = (): McpServerConfig => ({ url: http.url, headers: { Authorization: 'Bearer test-token-123' } });

describe.each([
  ['stdio', 'local', () => stdioServer(), undefined],
  ['streamable HTTP', 'remote', httpConfig, () => http.stats()],
] as const)('over %s', (_kind, name, config, serverStats) => {
  let source: McpToolSource;
  beforeAll(() => {
    source = track(new McpToolSource(name, config()));
  });
  const statsFor = async (s: McpToolSource) => (serverStats ? serverStats() : statsOf(s));
  const stats = () => statsFor(source);

  test('lists the tools under prefixed, sanitised names with object schemas', async () => {
    const specs = await source.list();
    const names = specs.map((s) => s.name);
    expect(source.label).toBe(`mcp:${name}`);
    expect(names).toEqual(expect.arrayContaining([`mcp__${name}__lookup_ticker`, `mcp__${name}__add`, `mcp__${name}__math_multiply`, `mcp__${name}__fail`, `mcp__${name}__slow`]));
    expect(names).not.toContain(`mcp__${name}__echo`); // disabled until enable_echo
    for (const s of specs) {
      expect(s.name).toMatch(/^[a-zA-Z0-9_-]{1,128}$/);
      expect(s.input_schema.type).toBe('object');
      expect(typeof s.input_schema.properties).toBe('object');
    }
    const add = specs.find((s) => s.name === `mcp__${name}__add`)!;
    expect(add.description).toBe('Add two numbers.');
    expect(add.input_schema).toMatchObject({ properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] });
    expect(await source.list()).toEqual(specs); // cached
  });

  test('calls return the text; the sanitised name reaches the original tool; each call runs once', async () => {
    const before = (await stats()).calls;
    expect(await source.call(`mcp__${name}__add`, { a: 2, b: 40 }, ctx())).toBe('42');
    expect(await source.call(`mcp__${name}__math_multiply`, { a: 6, b: 7 }, ctx())).toBe('42');
    expect(JSON.parse(await source.call(`mcp__${name}__lookup_ticker`, { company: 'Acme Corp' }, ctx()))).toEqual({
      company: 'Acme Corporation',
      ticker: 'ACME',
      price: 142.17,
      currency: 'USD',
    });
    const after = (await stats()).calls;
    expect((after.add ?? 0) - (before.add ?? 0)).toBe(1);
    expect((after['math.multiply'] ?? 0) - (before['math.multiply'] ?? 0)).toBe(1);
    expect((after.lookup_ticker ?? 0) - (before.lookup_ticker ?? 0)).toBe(1);
  });

  test('non-text parts are described', async () => {
    expect(await source.call(`mcp__${name}__media`, {}, ctx())).toBe(
      ['Acme price chart', '[image: image/png]', '[resource link: test://charts/acme.csv]', '[resource: test://notes/acme.txt]', 'Acme notes: steady growth.'].join('\n'),
    );
  });

  test('an isError reply is a non-retryable ToolError carrying its text', async () => {
    const err = await failureOf(source.call(`mcp__${name}__fail`, { message: 'out of coffee' }, ctx()));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'ToolError', nonRetryable: true, message: 'out of coffee' });
    expect(await failureOf(source.call(`mcp__${name}__lookup_ticker`, { company: 'Nowhere Ltd' }, ctx()))).toMatchObject({
      type: 'ToolError',
      message: 'no ticker known for "Nowhere Ltd"',
    });
  });

  test('bad arguments and unknown tools are non-retryable ToolInputErrors, and run nothing', async () => {
    const before = (await stats()).calls.add ?? 0;
    const err = await failureOf(source.call(`mcp__${name}__add`, { a: 'two' }, ctx()));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'ToolInputError', nonRetryable: true });
    expect(err.message).toMatch(/Invalid arguments for tool add/);
    expect(await failureOf(source.call(`mcp__${name}__add`, [1, 2], ctx()))).toMatchObject({ type: 'ToolInputError' });
    expect(await failureOf(source.call(`mcp__${name}__nope`, {}, ctx()))).toMatchObject({
      type: 'ToolInputError',
      message: expect.stringMatching(new RegExp(`^unknown tool mcp__${name}__nope \\(mcp:${name} offers: .*mcp__${name}__add`)),
    });
    expect((await stats()).calls.add ?? 0).toBe(before);
  });

  test('cancelling through the signal stops a slow call promptly, on the server too', async () => {
    const before = (await stats()).cancelled.slow ?? 0;
    const ac = new AbortController();
    const started = Date.now();
    const call = source.call(`mcp__${name}__slow`, { ms: 30_000 }, ctx(ac.signal));
    setTimeout(() => ac.abort(), 200);
    const err = await failureOf(call);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - started).toBeLessThan(3000);
    await until(async () => ((await stats()).cancelled.slow ?? 0) === before + 1);
    // The connection still serves calls.
    expect(await source.call(`mcp__${name}__add`, { a: 1, b: 1 }, ctx())).toBe('2');
  });

  test('a call longer than timeoutMs fails retryably (a plain Error) and is cancelled on the server', async () => {
    const quick = track(new McpToolSource(name, { ...config(), timeoutMs: 300 }));
    await quick.list(); // connect first: the timeout is the call's
    const before = (await statsFor(quick)).cancelled.slow ?? 0;
    const err = await failureOf(quick.call(`mcp__${name}__slow`, { ms: 20_000 }, ctx()));
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toBe(`mcp:${name}: mcp__${name}__slow timed out after 300 ms`);
    await until(async () => ((await statsFor(quick)).cancelled.slow ?? 0) === before + 1);
  });

  test('the tools allow-list limits what is offered and callable', async () => {
    const limited = track(new McpToolSource(name, { ...config(), tools: ['add', 'math.multiply'] }));
    expect((await limited.list()).map((s) => s.name)).toEqual([`mcp__${name}__add`, `mcp__${name}__math_multiply`]);
    expect(await failureOf(limited.call(`mcp__${name}__fail`, {}, ctx()))).toMatchObject({ type: 'ToolInputError' });
  });

  test('tools/list_changed refreshes the list', async () => {
    const own = track(new McpToolSource(name, config()));
    expect((await own.list()).map((s) => s.name)).not.toContain(`mcp__${name}__echo`);
    expect(await own.call(`mcp__${name}__enable_echo`, {}, ctx())).toBe('echo enabled');
    await until(async () => (await own.list()).some((s) => s.name === `mcp__${name}__echo`));
    expect(await own.call(`mcp__${name}__echo`, { text: 'hello' }, ctx())).toBe('hello');
  });
});

describe('stdio processes', () => {
  test('close() ends the server process, and the source stays closed', async () => {
    const source = new McpToolSource('proc', stdioServer());
    const { pid } = await statsOf(source);
    expect(alive(pid)).toBe(true);
    await source.close();
    await until(() => !alive(pid), 5000);
    await source.close(); // twice is fine
    expect((await failureOf(source.list())).message).toBe('mcp:proc: the tool source is closed');
  });

  test('a server that crashes during a call fails that call retryably, and the next call runs on a new process', async () => {
    const source = track(new McpToolSource('crashy', stdioServer()));
    const first = await statsOf(source);
    const err = await failureOf(source.call('mcp__crashy__crash', {}, ctx()));
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toBe('mcp:crashy: the connection closed during mcp__crashy__crash');
    expect(await source.call('mcp__crashy__add', { a: 1, b: 2 }, ctx())).toBe('3');
    const second = await statsOf(source);
    expect(second.pid).not.toBe(first.pid);
    expect(second.calls).toEqual({ add: 1 }); // a new process, and the call was not repeated
    expect(alive(first.pid)).toBe(false);
  });

  test('a server killed between calls is reconnected on the next call', async () => {
    const source = track(new McpToolSource('killed', stdioServer()));
    const first = await statsOf(source);
    process.kill(first.pid, 'SIGKILL');
    await until(() => !alive(first.pid));
    await new Promise((r) => setTimeout(r, 200));
    expect(await source.call('mcp__killed__add', { a: 2, b: 2 }, ctx())).toBe('4');
    const second = await statsOf(source);
    expect(second.pid).not.toBe(first.pid);
    expect(second.calls).toEqual({ add: 1 });
  });

  test('a command that cannot start is a retryable Error that repeats no secret', async () => {
    const source = track(new McpToolSource('missing', { command: path.join(ROOT, 'no-such-mcp-server'), env: { API_TOKEN: 'secret-value-42' } }));
    const err = await failureOf(source.list());
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toMatch(/^mcp:missing: cannot connect to missing \(stdio: .*no-such-mcp-server\): /);
    expect(err.message).not.toContain('secret-value-42');
  });

  test('env and cwd reach the server process', async () => {
    const source = track(new McpToolSource('env', stdioServer({ env: { MCP_TEST_LABEL: 'from-config' } })));
    expect((await statsOf(source)).label).toBe('from-config');
    const nowhere = track(new McpToolSource('cwd', stdioServer({ cwd: path.join(ROOT, 'no-such-dir') })));
    const err = await failureOf(nowhere.list());
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toMatch(/^mcp:cwd: cannot connect/);
  });
});

describe('streamable HTTP sessions', () => {
  test('close() ends the session on the server', async () => {
    const source = new McpToolSource('sess', httpConfig());
    await source.list();
    expect(http.sessions()).toBeGreaterThan(0);
    const before = http.sessions();
    await source.close();
    await until(() => http.sessions() === before - 1);
  });

  test('a wrong token fails the connection without repeating the token', async () => {
    const source = track(new McpToolSource('badauth', { url: http.url, headers: { Authorization: 'Bearer wrong-token-999' } }));
    const err = await failureOf(source.list());
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toMatch(/^mcp:badauth: cannot connect to badauth \(http: http:\/\/127\.0\.0\.1:\d+\/mcp\): .*(401|unauthorized)/);
    expect(err.message).not.toContain('wrong-token-999');
  });

  test('a restarted server (its sessions gone) is reconnected without repeating the call; a stopped one is a retryable Error', async () => {
    const first = await startMcpHttpServer({ port: 0 });
    const port = first.port;
    const source = track(new McpToolSource('restart', { url: first.url }));
    expect(await source.call('mcp__restart__add', { a: 1, b: 1 }, ctx())).toBe('2');
    await first.close();

    // The first call finds its kept-alive socket closed (sent or not, it is not repeated); the next finds no server.
    const lost = await failureOf(source.call('mcp__restart__add', { a: 1, b: 2 }, ctx()));
    expect(lost).not.toBeInstanceOf(ApplicationFailure);
    expect(lost.message).toMatch(/^mcp:restart: /);
    const down = await failureOf(source.call('mcp__restart__add', { a: 1, b: 2 }, ctx()));
    expect(down).not.toBeInstanceOf(ApplicationFailure);
    expect(down.message).toMatch(/^mcp:restart: cannot connect to restart \(http: http:\/\/127\.0\.0\.1:\d+\/mcp\): .*ECONNREFUSED/);

    const second = await startMcpHttpServer({ port });
    try {
      expect(await source.call('mcp__restart__add', { a: 2, b: 3 }, ctx())).toBe('5');
      expect(second.stats().calls).toEqual({ add: 1 });
    } finally {
      await source.close();
      await second.close();
    }
  });
});

describe('protocol errors of a server', () => {
  // A low-level server answering tools/call with JSON-RPC errors (McpServer turns every error into an isError reply).
  let server: HttpServer;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const mcp = new Server({ name: 'errors', version: '1.0.0' }, { capabilities: { tools: {} } });
      mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
        tools: [
          { name: 'strict', inputSchema: { type: 'object' as const, properties: { n: { type: 'number' } } } },
          { name: 'broken', description: 'always an internal error', inputSchema: { type: 'object' as const } },
        ],
      }));
      mcp.setRequestHandler(CallToolRequestSchema, async (r) => {
        if (r.params.name === 'strict') throw new McpError(ErrorCode.InvalidParams, 'n must be a number');
        throw new McpError(ErrorCode.InternalError, 'database unavailable');
      });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => void transport.close());
      void mcp.connect(transport).then(() => transport.handleRequest(req, res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('InvalidParams is a ToolInputError; other server errors are retryable Errors', async () => {
    const source = track(new McpToolSource('errs', { url }));
    const specs = await source.list();
    expect(specs.map((s) => s.name)).toEqual(['mcp__errs__strict', 'mcp__errs__broken']);
    expect(specs[0]).toEqual({ name: 'mcp__errs__strict', description: '', input_schema: { type: 'object', properties: { n: { type: 'number' } } } });
    expect(specs[1].input_schema).toEqual({ type: 'object', properties: {} });
    expect(await failureOf(source.call('mcp__errs__strict', { n: 'x' }, ctx()))).toMatchObject({
      type: 'ToolInputError',
      nonRetryable: true,
      message: 'mcp__errs__strict: MCP error -32602: n must be a number',
    });
    const broken = await failureOf(source.call('mcp__errs__broken', {}, ctx()));
    expect(broken).not.toBeInstanceOf(ApplicationFailure);
    expect(broken.message).toBe('mcp:errs: mcp__errs__broken: MCP error -32603: database unavailable');
  });
});

describe('tool names and results', () => {
  test('names keep [A-Za-z0-9_-], fit 128 characters and never collide', () => {
    const taken = new Set<string>();
    expect(mcpToolName('docs', 'search.files/v2', taken)).toBe('mcp__docs__search_files_v2');
    expect(mcpToolName('docs', 'search_files_v2', taken)).toBe('mcp__docs__search_files_v2_2');
    const long = mcpToolName('docs', 'x'.repeat(200), taken);
    expect(long).toHaveLength(128);
    const long2 = mcpToolName('docs', `${'x'.repeat(200)}y`, taken);
    expect(long2).toHaveLength(128);
    expect(long2).toMatch(/_2$/);
  });

  test('a result without content falls back to its structured content', () => {
    expect(formatMcpContent({ content: [], structuredContent: { n: 1 } })).toBe('{"n":1}');
    expect(formatMcpContent({ content: [{ type: 'audio', data: '', mimeType: 'audio/wav' }] })).toBe('[audio: audio/wav]');
    expect(formatMcpContent({ content: [{ type: 'resource', resource: { uri: 'file:///a.bin', blob: '', mimeType: 'application/octet-stream' } }] })).toBe(
      '[resource: file:///a.bin, application/octet-stream]',
    );
  });

  test('createMcpSources: one source per server', () => {
    const s = createMcpSources(parseMcpServers({ a: { command: 'node' }, b: { url: 'http://127.0.0.1:1/mcp' } }));
    expect(s.map((x) => x.label)).toEqual(['mcp:a', 'mcp:b']);
  });
});

describe('MCP server configuration', () => {
  test('parses both kinds, from an object or JSON text', () => {
    const config = {
      docs: { command: 'node', args: ['server.js'], env: { TOKEN: 't' }, cwd: '/srv', tools: ['search'], timeoutMs: 30_000 },
      web: { url: 'https://mcp.example/mcp', headers: { Authorization: 'Bearer x' } },
    };
    expect(parseMcpServers(config)).toEqual(config);
    expect(parseMcpServers(JSON.stringify(config))).toEqual(config);
    expect(parseMcpServers(undefined)).toEqual({});
    expect(parseMcpServers('  ')).toEqual({});
  });

  test('names every problem', () => {
    const err = (() => {
      try {
        parseMcpServers({
          'bad name!': { command: 'node' },
          neither: { args: ['x'] },
          both: { command: 'node', url: 'http://localhost/mcp' },
          ftp: { url: 'ftp://example.com/mcp' },
          mixed: { command: 'node', headers: { A: 'b' }, comand: 'typo' },
          limits: { url: 'http://localhost/mcp', timeoutMs: 5, tools: [] },
          notObject: 5,
        });
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('expected an error');
    })();
    expect(err).toMatch(/^invalid MCP servers: /);
    for (const part of [
      'bad name!: server names must match',
      'neither: must set "command" (a stdio server) or "url" (a streamable HTTP server)',
      'both: must set either "command" (stdio) or "url" (streamable HTTP), not both',
      'ftp.url: must be an http:// or https:// URL',
      'mixed.headers: is only for HTTP servers ("url")',
      'mixed: Unrecognized key: "comand"',
      'limits.timeoutMs: must be at least 100 ms',
      'limits.tools: must not be empty',
      'notObject: must be an object with "command" or "url"',
    ]) {
      expect(err).toContain(part);
    }
    expect(() => parseMcpServers(['x'])).toThrow('invalid MCP servers: must be an object of servers by name');
    expect(() => parseMcpServers({ x: { url: 'http://h/mcp', env: { A: 'b' } } })).toThrow('x.env: is only for stdio servers ("command")');
  });

  test('messages and descriptions never repeat secrets', () => {
    const msg = (raw: unknown) => {
      try {
        parseMcpServers(raw);
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(msg('{"docs": {"url": "http://h/mcp", "headers": {"Authorization": "Bearer sk-live-1"')).toBe('invalid MCP servers: MCP_SERVERS is not valid JSON');
    expect(msg({ docs: { url: 'ftp://user:sk-live-2@h/mcp' } })).not.toContain('sk-live-2');
    expect(msg({ docs: { command: 'node', env: { TOKEN: 12345 } } })).toBe('invalid MCP servers: docs.env.TOKEN: must be a string');
    expect(describeMcpServer('web', { url: 'https://user:sk-live-3@mcp.example/v1/mcp?key=sk-live-4', headers: { A: 'sk-live-5' } })).toBe(
      'web (http: https://mcp.example/v1/mcp)',
    );
    expect(describeMcpServer('docs', { command: 'node', args: ['--token', 'sk-live-6'], env: { T: 'sk-live-7' } })).toBe('docs (stdio: node)');
  });
});
