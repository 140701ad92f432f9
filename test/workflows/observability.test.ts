/** A real worker process: Prometheus metrics after a run, and structured logs with ids and without prompts. */
import { execFile } from 'node:child_process';
import { splitQueues } from '../../src/client';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { ROOT, freePort } from '../../scripts/dev-server';
import { startLocalLlmServer, type LocalLlmServer } from '../../src/testing';
import type { FanOutResult } from '../../src/workflows/fan-out';
import { temporalAddress } from '../helpers/harness';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

describe('worker observability', () => {
  let llm: LocalLlmServer;
  let worker: WorkerProcess;
  let metricsPort: number;
  let connection: Connection;
  const taskQueue = `observability-${randomUUID()}`;

  beforeAll(async () => {
    llm = await startLocalLlmServer({ ttftMs: 30, perTokenMs: 0, outputTokens: 10 });
    metricsPort = await freePort();
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_TASK_QUEUE: taskQueue,
      ANTHROPIC_BASE_URL: llm.url,
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'INFO',
      LOG_FORMAT: 'json',
      LLM_MODEL: 'claude-sonnet-4-6',
    });
    connection = await Connection.connect({ address: temporalAddress() });
  });
  afterAll(async () => {
    worker?.kill();
    await connection?.close();
    await llm?.close();
  });

  test('after a run, the metrics endpoint counts calls by outcome, retries, tokens, latency and cost; logs are JSON with ids and no prompts', async () => {
    llm.setFaults([
      { match: 'Denied task', fault: { kind: 'status', status: 400, message: 'nope' } },
      { match: 'Flaky task', times: 1, fault: { kind: 'status', status: 500 } },
      { match: 'Plain task', times: 1, fault: { kind: 'status', status: 529 } },
    ]);
    const client = new Client({ connection });
    const workflowId = `obs-${randomUUID()}`;
    const r = (await client.workflow.execute('fanOut', {
      taskQueue,
      workflowId,
      args: [
        {
          ...splitQueues(taskQueue),
          tasks: [
            { name: 'a', prompt: 'Plain task one' },
            { name: 'b', prompt: 'Flaky task two' },
            { name: 'c', prompt: 'Denied task three' },
          ],
        },
      ],
    })) as FanOutResult;
    expect(r.stats).toMatchObject({ succeeded: 2, failed: 1 });
    expect(r.stats.costUsd).toBeGreaterThan(0);

    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const value = (name: string, labels: string) => {
      const line = text.split('\n').find((l) => l.startsWith(name) && labels.split(',').every((kv) => l.includes(kv)));
      return line ? Number(line.split(' ').pop()) : undefined;
    };
    expect(value('llm_calls', 'outcome="success",model="claude-sonnet-4-6"')).toBe(2);
    expect(value('llm_calls', 'outcome="ServerError"')).toBe(1);
    expect(value('llm_calls', 'outcome="BadRequest"')).toBe(1);
    expect(value('llm_retries', 'model="claude-sonnet-4-6"')).toBe(1);
    // The 529 was waited out in its attempt: a throttle, not a failed call.
    expect(value('llm_throttled', 'status="529"')).toBe(1);
    // This process's flow control: its adaptive limit and nothing left in flight.
    expect(value('llm_flow_concurrency_limit', 'model="claude-sonnet-4-6"')).toBeGreaterThan(0);
    expect(value('llm_flow_in_flight', 'model="claude-sonnet-4-6"')).toBe(0);
    // `client limits --metrics` shows the same to a user, with the worker processes the server sees.
    const cli = await promisify(execFile)(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      [path.join(ROOT, 'src/cli/main.ts'), 'limits', '--json', '--metrics', `http://127.0.0.1:${metricsPort}/metrics`],
      {
        cwd: ROOT,
        env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_TASK_QUEUE: taskQueue },
      },
    );
    const shown = JSON.parse(cli.stdout) as {
      running: boolean;
      llmWorkerProcesses: number;
      workers: { models: Record<string, { concurrencyLimit: number; inFlight: number; throttled: number }> }[];
    };
    expect(shown).toMatchObject({ running: false, llmWorkerProcesses: 1 });
    expect(shown.workers[0].models['claude-sonnet-4-6']).toMatchObject({ inFlight: 0, throttled: 1 });
    expect(shown.workers[0].models['claude-sonnet-4-6'].concurrencyLimit).toBeGreaterThan(0);
    expect(value('llm_output_tokens', 'model="claude-sonnet-4-6"')).toBe(20);
    expect(value('llm_latency_count', 'model="claude-sonnet-4-6"')).toBe(2);
    expect(value('llm_estimated_cost_microusd', 'model="claude-sonnet-4-6"')).toBe(Math.round(r.stats.costUsd * 1e6));
    // The SDK's own metrics are on the same endpoint.
    expect(text).toMatch(/temporal_activity_execution_latency|temporal_workflow_completed/);

    // Log lines reach us through a pipe: wait until both completions have arrived.
    const parse = () =>
      worker
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{') && l.endsWith('}'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const deadline = Date.now() + 10_000;
    while (parse().filter((l) => l.message === 'LLM call finished' && l.workflowId === workflowId).length < 2 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
    }
    const lines = parse();
    const finished = lines.filter((l) => l.message === 'LLM call finished' && l.workflowId === workflowId);
    expect(finished).toHaveLength(2);
    expect(finished[0]).toMatchObject({ level: 'INFO', activityType: 'callLlm', model: 'claude-sonnet-4-6' });
    expect(finished[0].activityId).toBeDefined();
    const failed = lines.find((l) => l.message === 'LLM call failed' && l.errorType === 'BadRequest');
    expect(failed).toMatchObject({ workflowId });
    // No prompt text at INFO level.
    expect(worker.output()).not.toContain('Plain task one');
    expect(worker.output()).not.toContain('test-key');
  });

  test('tool nodes work in the production worker process (tsx), not only under jest', async () => {
    const client = new Client({ connection });
    const r = (await client.workflow.execute('runDag', {
      taskQueue,
      workflowId: `obs-tool-${randomUUID()}`,
      args: [
        {
          ...splitQueues(taskQueue),
          nodes: [{ id: 'stats', tool: { name: 'document-stats', documents: [{ name: 'doc', text: 'Durable agents run on Temporal. Agents run.' }] } }],
        },
      ],
    })) as { results: { state: string; output: string | null; error: string | null }[] };
    expect(r.results[0].error).toBeNull();
    expect(r.results[0]).toMatchObject({ state: 'succeeded' });
    expect(r.results[0].output).toContain('Top terms: agents (2), run (2)');
  });
});
