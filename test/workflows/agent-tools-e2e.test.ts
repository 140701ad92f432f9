/**
 * Tools from outside the package on the real dev server, through a user's worker with AgentsPlugin:
 * a tool the user registers (`tools`) and MCP servers (`mcpServers`: the test MCP server over
 * streamable HTTP in this process and over stdio as a child process of the worker), used by agents
 * and by an agent node of a DAG; unknown MCP tools are refused before any LLM call.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { UserTool } from '../../src/activities';
import type { AgentResult } from '../../src/core/agent';
import { startLocalLlmServer, startMcpHttpServer, type LocalLlmServer } from '../../src/testing';
import { AgentsPlugin } from '../../src/worker';
import type { DagResult } from '../../src/workflows/run-dag';
import { temporalAddress } from '../helpers/harness';
import { quietRuntime } from '../helpers/runtime';

const ROOT = path.resolve(__dirname, '../..');

describe('user tools and MCP tools through AgentsPlugin', () => {
  let llm: LocalLlmServer;
  let mcp: Awaited<ReturnType<typeof startMcpHttpServer>>;
  let nativeConnection: NativeConnection;
  let connection: Connection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `agent-tools-${randomUUID()}`;
  const shouted: string[] = [];
  const shout: UserTool = {
    name: 'shout_text',
    description: 'Shout a text: return it in capitals.',
    inputSchema: { type: 'object', properties: { text: { type: 'string', minLength: 1 } }, required: ['text'] },
    run: async (input) => {
      shouted.push((input as { text: string }).text);
      return `SHOUTED: ${(input as { text: string }).text.toUpperCase()}`;
    },
  };
  const start = (type: string, input: unknown) => client.workflow.start(type, { taskQueue, workflowId: `${type}-${randomUUID()}`, args: [input] });

  beforeAll(async () => {
    quietRuntime();
    llm = await startLocalLlmServer({ ttftMs: 20, perTokenMs: 0, outputTokens: 10 });
    mcp = await startMcpHttpServer({ port: 0 });
    nativeConnection = await NativeConnection.connect({ address: temporalAddress() });
    connection = await Connection.connect({ address: temporalAddress() });
    client = new Client({ connection });
    const plugin = new AgentsPlugin({
      env: { ANTHROPIC_BASE_URL: llm.url, ANTHROPIC_API_KEY: 'agent-tools-key', LOG_LEVEL: 'ERROR' },
      tools: [shout],
      mcpServers: {
        tickers: { url: mcp.url },
        local: { command: process.execPath, args: ['--import', 'tsx', path.join(ROOT, 'src/testing/mcp-server.ts'), '--stdio'], cwd: ROOT },
      },
    });
    worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! }, plugins: [plugin] });
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await nativeConnection?.close();
    await mcp?.close();
    await llm?.close();
  });

  test('an agent calls an MCP tool over streamable HTTP: listed, called once, its answer reaches the model', async () => {
    const r = (await (await start('agent', { prompt: 'Look up the ticker of Acme', tools: ['mcp__tickers__lookup_ticker'] })).result()) as AgentResult;
    expect(r.stoppedBy).toBe('end-turn');
    expect(r.turns[0].toolCalls).toMatchObject([{ name: 'mcp__tickers__lookup_ticker', isError: false }]);
    expect(r.text).toContain('ACME');
    expect(r.text).toContain('142.17');
    expect(mcp.stats().calls).toMatchObject({ lookup_ticker: 1 });
  });

  test('a DAG agent node uses a user tool and an MCP tool over stdio in one turn; an MCP isError reply reaches the model as is_error', async () => {
    const handle = await start('runDag', {
      nodes: [
        { id: 'calc', prompt: 'Shout the text and add the numbers', agent: { tools: ['shout_text', 'mcp__local__add'] } },
        { id: 'oops', prompt: 'Call the fail tool', agent: { tools: ['mcp__local__fail'] } },
        { id: 'report', prompt: 'Report {{calc}}', dependsOn: ['calc'] },
      ],
    });
    const r = (await handle.result()) as DagResult;
    expect(r.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(r.results[0].agent?.toolCalls).toEqual({ shout_text: 1, mcp__local__add: 1 });
    expect(r.results[0].output).toContain('SHOUTED: ');
    expect(shouted).toHaveLength(1);
    expect(r.results[1].agent).toMatchObject({ toolCalls: { mcp__local__fail: 1 }, toolErrors: 1 });
    expect(r.results[1].output).toContain('returned an error');
  });

  test('an MCP tool the servers do not offer is refused before any LLM call, the known ones listed', async () => {
    const before = llm.stats().calls;
    const handle = await start('agent', { prompt: 'p', tools: ['mcp__tickers__delete_everything'] });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause).toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/unknown tool mcp__tickers__delete_everything \(known: .*mcp__local__add.*mcp__tickers__lookup_ticker.*shout_text/),
    });
    expect(llm.stats().calls).toBe(before);
  });
});
