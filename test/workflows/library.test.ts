/**
 * The package as a library: a user's single worker with AgentsPlugin on its own task queue runs
 * the package's workflows and the user's own, started by reference through the typed starters,
 * every LLM and tool call on that one queue (no `-llm` / `-tools` workers anywhere).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { AgentsPlugin } from '../../src/worker';
import { getProgress, startDag, startFanOut } from '../../src/client';
import { startLocalLlmServer, type LocalLlmServer } from '../../src/testing';
import { draftAndJudge } from '../fixtures/consumer-workflows';
import { temporalAddress } from '../helpers/harness';
import { quietRuntime } from '../helpers/runtime';

describe('AgentsPlugin: one worker is enough', () => {
  let llm: LocalLlmServer;
  let nativeConnection: NativeConnection;
  let connection: Connection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `library-${randomUUID()}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'library-'));

  beforeAll(async () => {
    quietRuntime();
    // LLM calls of 150 ms: the critical path a → b is then longer than the independent tool node.
    llm = await startLocalLlmServer({ ttftMs: 150, perTokenMs: 0, outputTokens: 12 });
    nativeConnection = await NativeConnection.connect({ address: temporalAddress() });
    connection = await Connection.connect({ address: temporalAddress() });
    client = new Client({ connection });
    const plugin = new AgentsPlugin({
      env: {
        ANTHROPIC_BASE_URL: llm.url,
        ANTHROPIC_API_KEY: 'library-test-key',
        RUNS_DIR: path.join(dir, 'runs'),
        CACHE_DIR: path.join(dir, 'cache'),
        LLM_JOURNAL_DIR: path.join(dir, 'journal'),
        DOCUMENT_ROOTS: dir,
        LOG_LEVEL: 'ERROR',
      },
    });
    worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('../fixtures/consumer-workflows'),
      plugins: [plugin],
    });
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await nativeConnection?.close();
    await llm?.close();
  });

  test('fanOut started by reference runs its calls on the worker’s own queue', async () => {
    const handle = await startFanOut(
      client,
      {
        tasks: [
          { name: 'one', prompt: 'Library task one' },
          { name: 'two', prompt: 'Library task two' },
        ],
        maxConcurrent: 2,
      },
      { taskQueue },
    );
    const r = await handle.result();
    expect(r.results.map((x) => [x.name, x.state])).toEqual([
      ['one', 'succeeded'],
      ['two', 'succeeded'],
    ]);
    expect(r.results[0].output).toContain('Library task one');
    expect((await getProgress(handle)).done).toBe(true);
    // Every activity of the run was scheduled on the run's own queue.
    const queues = new Set<string>();
    for (const e of (await handle.fetchHistory()).events ?? []) {
      const q = e.activityTaskScheduledEventAttributes?.taskQueue?.name;
      if (q) queues.add(q);
    }
    expect([...queues]).toEqual([taskQueue]);
  });

  test('runDag with a tool node, and a user workflow built from <pkg>/workflow', async () => {
    const dag = await startDag(
      client,
      {
        nodes: [
          { id: 'a', prompt: 'Library node a' },
          { id: 'stats', tool: { name: 'document-stats', documents: [{ name: 'd', text: 'agents run durable agents' }] } },
          { id: 'b', prompt: 'Quote {{a}}', dependsOn: ['a'] },
        ],
      },
      { taskQueue },
    );
    const r = await dag.result();
    expect(r.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(r.results[1].output).toContain('agents');
    expect(r.stats.criticalPath).toEqual(['a', 'b']);

    const own = await client.workflow.execute(draftAndJudge, { taskQueue, workflowId: `judge-${randomUUID()}`, args: [{ topic: 'durable execution' }] });
    expect(own.states).toEqual({ 'draft-a': 'succeeded', 'draft-b': 'succeeded', stats: 'succeeded', judge: 'succeeded' });
    expect(own.verdict).toContain('Judge the drafts');
  });

  test('a wrong input type fails in the workflow with the validation message', async () => {
    // The typed starter rejects this at compile time; a JavaScript caller gets the workflow's message.
    const handle = await client.workflow.start('fanOut', { taskQueue, workflowId: `bad-${randomUUID()}`, args: [{ tasks: 'not a list' }] });
    await expect(handle.result()).rejects.toMatchObject({ cause: { message: expect.stringContaining('tasks') } });
  });
});
