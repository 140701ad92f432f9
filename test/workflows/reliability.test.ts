/** Cancellation, secrets, payload encryption and offload, sharding, and load with faults, on the real dev server. */
import { execFile } from 'node:child_process';
import { splitQueues } from '../../src/client';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { startLocalLlmServer } from '../../src/testing';
import type { FanOutResult } from '../../src/workflows/fan-out';
import { startHarness, temporalAddress, type Harness } from '../helpers/harness';
import { startWorkerProcess } from '../helpers/worker-process';

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const run = promisify(execFile);

/** A history's JSON plus every base64 payload field decoded, so searches see what the server stores. */
function historyText(json: string): string {
  const parts: string[] = [json];
  const walk = (v: unknown): void => {
    if (typeof v === 'string' && v.length >= 4 && /^[A-Za-z0-9+/]+=*$/.test(v)) parts.push(Buffer.from(v, 'base64').toString('utf8'));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(JSON.parse(json));
  return parts.join('\n');
}

async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('cancellation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ llm: { ttftMs: 50, perTokenMs: 0, outputTokens: 10 } });
  });
  afterAll(async () => h?.close());

  test('client cancel aborts in-flight requests, keeps finished results and marks the cancelled tasks', async () => {
    h.llm.setFaults([{ match: 'slow', fault: { kind: 'latency', ttftMs: 20_000 } }]);
    // With 2 slots: fast starts with slow 1, then slow 2 takes fast's slot, and queued waits.
    const tasks = [
      { name: 'fast', prompt: 'fast one' },
      { name: 'slow 1', prompt: 'slow one' },
      { name: 'slow 2', prompt: 'slow two' },
      { name: 'queued', prompt: 'queued three' },
    ];
    const handle = await h.start('fanOut', { tasks, maxConcurrent: 2 });
    await waitFor(() => h.llm.stats().requests.filter((q) => q.outcome === 'ok' && q.finishedAt).length === 1 && h.llm.countMatching('slow') === 2);
    const cli = await run(TSX, [path.join(ROOT, 'src/cli/main.ts'), 'cancel', handle.workflowId, '--json'], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: h.address, TEMPORAL_TASK_QUEUE: h.taskQueue },
    });
    const r = JSON.parse(cli.stdout) as FanOutResult;
    expect(r.cancelled).toBe(true);
    expect(r.results.map((x) => x.state)).toEqual(['succeeded', 'cancelled', 'cancelled', 'cancelled']);
    expect(r.results[3].error).toBe('cancelled before it started');
    expect(r.results[0].output).toContain('fast one');
    // The LLM server saw both slow connections closed before it replied, and never saw the queued task.
    const slow = h.llm.stats().requests.filter((q) => q.prompt.startsWith('slow'));
    expect(slow.map((q) => q.aborted)).toEqual([true, true]);
    expect(slow.every((q) => q.outcome !== 'ok' || q.status !== 200)).toBe(true);
    expect(h.llm.countMatching('queued')).toBe(0);
  });
});

describe('secrets and privacy', () => {
  test('the API key never appears in histories, worker logs or error messages', async () => {
    const secret = `sk-ant-test-${randomUUID()}`;
    const llm = await startLocalLlmServer({ ttftMs: 20, perTokenMs: 0, outputTokens: 5 });
    llm.setFaults([{ match: 'unauthorised', fault: { kind: 'status', status: 401, message: 'invalid x-api-key' } }]);
    const taskQueue = `secrets-${randomUUID()}`;
    const worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_TASK_QUEUE: taskQueue,
      ANTHROPIC_API_KEY: secret,
      ANTHROPIC_BASE_URL: llm.url,
      LOG_LEVEL: 'DEBUG',
    });
    const connection = await Connection.connect({ address: temporalAddress() });
    try {
      const client = new Client({ connection });
      const handle = await client.workflow.start('fanOut', {
        taskQueue,
        workflowId: `secrets-${randomUUID()}`,
        args: [
          {
            ...splitQueues(taskQueue),
            tasks: [
              { name: 'ok', prompt: 'authorised call' },
              { name: 'denied', prompt: 'unauthorised call' },
            ],
          },
        ],
      });
      const r = (await handle.result()) as FanOutResult;
      expect(r.results[1]).toMatchObject({ success: false, errorType: 'AuthenticationError' });
      expect(r.results[1].error).toContain('ANTHROPIC_API_KEY is missing or wrong');
      // The key did reach the provider...
      expect(llm.stats().calls).toBe(2);
      // ...and nowhere else.
      const history = historyText(historyToJSON(await handle.fetchHistory()));
      expect(history).toContain('authorised call');
      expect(history).not.toContain(secret);
      expect(JSON.stringify(r)).not.toContain(secret);
      expect(worker.output()).not.toContain(secret);
    } finally {
      worker.kill();
      await connection.close();
      await llm.close();
    }
  });

  test('with payload encryption the raw history holds no plaintext, and the client still reads results', async () => {
    const key = randomBytes(32).toString('base64');
    const h = await startHarness({ payloads: { encryption: { keys: new Map([['2026-11', Buffer.from(key, 'base64')]]), currentKeyId: '2026-11' } } });
    try {
      const handle = await h.start('fanOut', { tasks: [{ name: 'confidential', prompt: 'Quarterly numbers of Project Nightingale' }] });
      const r = (await handle.result()) as FanOutResult;
      expect(r.results[0].output).toContain('Project Nightingale');
      const raw = historyText(historyToJSON(await handle.fetchHistory()));
      expect(raw).not.toContain('Nightingale');
      expect(raw).toContain('binary/encrypted');
      expect(raw).toContain('2026-11');
      // A client without the key cannot read the result.
      const plain = new Client({ connection: h.client.connection });
      await expect(plain.workflow.getHandle(handle.workflowId).result()).rejects.toThrow();
    } finally {
      await h.close();
    }
  });
});

describe('scale and load', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ llm: { ttftMs: 5, perTokenMs: 0, outputTokens: 5 } });
  });
  afterAll(async () => h?.close());
  beforeEach(() => {
    h.llm.reset();
    h.resetFlow();
  });

  test('an output too large for history is offloaded and read back transparently', async () => {
    h.llm.setFaults([{ match: 'long report', fault: { kind: 'latency', outputTokens: 60_000 } }]);
    const handle = await h.start('fanOut', { tasks: [{ name: 'long', prompt: 'long report please', maxTokens: 64_000 }] });
    const r = (await handle.result()) as FanOutResult;
    expect(r.results[0].success).toBe(true);
    expect(r.results[0].tokens.output).toBe(60_000);
    expect(r.results[0].output!.length).toBeGreaterThan(300_000);
    const raw = historyToJSON(await handle.fetchHistory());
    expect(raw.length).toBeLessThan(100_000);
  });

  test('200 tasks with 10% transient faults: every task accounted for once, counts match the LLM server', async () => {
    h.llm.setFaults([
      { probability: 0.04, fault: { kind: 'status', status: 529 } },
      { probability: 0.03, fault: { kind: 'status', status: 500 } },
      { probability: 0.03, fault: { kind: 'drop' } },
    ]);
    const tasks = Array.from({ length: 200 }, (_, i) => ({ id: `t${i}`, name: `task ${i}`, prompt: `load task ${i}.` }));
    const r = await h.run<FanOutResult>('fanOut', { tasks, maxConcurrent: 50 });
    expect(r.results.map((x) => x.taskId)).toEqual(tasks.map((t) => t.id));
    expect(new Set(r.results.map((x) => x.taskId)).size).toBe(200);
    for (const x of r.results) expect(x.success || Boolean(x.error)).toBe(true);
    const s = h.llm.stats();
    const okAtServer = s.requests.filter((q) => q.outcome === 'ok').length;
    const faulted = s.requests.filter((q) => q.outcome !== 'ok').length;
    expect(faulted).toBeGreaterThan(5);
    expect(r.stats.succeeded).toBe(okAtServer);
    expect(r.stats.succeeded + r.stats.failed).toBe(200);
    // Every request is an attempt, or a throttle (529) waited out within one: the attempts are
    // exactly the requests that were not throttled (a failed attempt's throttles are not in the
    // final result, so the successful ones' throttle counts are a lower bound).
    const throttledAtServer = s.requests.filter((q) => q.status === 429 || q.status === 529).length;
    expect(r.results.reduce((n, x) => n + x.attempts, 0)).toBe(s.calls - throttledAtServer);
    expect(r.results.reduce((n, x) => n + (x.throttles ?? 0), 0)).toBeLessThanOrEqual(throttledAtServer);
    expect(s.maxInFlight).toBeLessThanOrEqual(50);
  });

  test('a run above the shard size splits itself into child workflows and keeps input order', async () => {
    const tasks = Array.from({ length: 1201 }, (_, i) => ({ name: `n${i}`, prompt: `shard task ${i}.` }));
    // 21 slots over 2 shards: 11 + 10, never more than 21 at once in total.
    const handle = await h.start('fanOut', { tasks, maxConcurrent: 21 });
    const r = (await handle.result()) as FanOutResult;
    expect(h.llm.stats().maxInFlight).toBeLessThanOrEqual(21);
    expect(r.shards).toEqual([`${handle.workflowId}/shard-1`, `${handle.workflowId}/shard-2`]);
    expect(r.stats).toMatchObject({ total: 1201, succeeded: 1201 });
    expect(r.results[1200].taskId).toBe('task-1201');
    expect(r.results[1200].output).toContain('shard task 1200.');
    expect(h.llm.stats().calls).toBe(1201);
    const parent = await handle.describe();
    expect(parent.historyLength).toBeLessThan(100);
    for (const id of r.shards) expect((await h.client.workflow.getHandle(id).describe()).historyLength).toBeLessThan(10_240);
  });
});
