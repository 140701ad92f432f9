/**
 * Sharded fan-out on the real dev server: a cancelled or failed-fast sharded run keeps every
 * finished result exactly as an unsharded run does, and shards are bounded by history bytes too.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TaskResult } from '../../src/core/tasks';
import { SHARD_HISTORY_BYTES } from '../../src/core/tasks';
import type { FanOutResult } from '../../src/workflows/fan-out';
import { sharedHarness } from '../helpers/harness';

const tasks = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, prompt: `Sharded task ${i + 1}.` }));

describe('sharded fanOut', () => {
  const h = sharedHarness({ llm: { ttftMs: 50, perTokenMs: 0, outputTokens: 20 } });

  test('shardSize splits a small run; results keep input order', async () => {
    const handle = await h.start('fanOut', { tasks: tasks(7), shardSize: 3, maxConcurrent: 3 });
    const r = (await handle.result()) as FanOutResult;
    expect(r.shards).toEqual([1, 2, 3].map((i) => `${handle.workflowId}/shard-${i}`));
    expect(r.results.map((x) => x.name)).toEqual(tasks(7).map((t) => t.name));
    expect(r.stats).toMatchObject({ total: 7, succeeded: 7 });
    expect(h.llm.stats().maxInFlight).toBeLessThanOrEqual(3);
  });

  test('cancelled while shards wait for a slot: finished results kept, the rest cancelled before it started', async () => {
    // One shard at a time (maxConcurrent 1); the 4th call hangs so the cancel lands while shard 2 runs.
    h.llm.setFaults([{ match: 'Sharded task 4.', fault: { kind: 'latency', ttftMs: 30_000 } }]);
    const handle = await h.start('fanOut', { tasks: tasks(9), shardSize: 3, maxConcurrent: 1 });
    await waitFor(() => h.llm.stats().requests.some((q) => q.prompt.includes('Sharded task 4.')));
    await handle.cancel();
    const r = (await handle.result()) as FanOutResult;
    expect(r.cancelled).toBe(true);
    expect(r.results.map((x) => x.name)).toEqual(tasks(9).map((t) => t.name));
    expect(r.results.slice(0, 3).map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(r.results[0].output).toContain('Sharded task 1.');
    expect(r.results[3]).toMatchObject({ state: 'cancelled' });
    for (const x of r.results.slice(4)) expect(x).toMatchObject({ state: 'cancelled', error: 'cancelled before it started' });
    expect(r.stats).toMatchObject({ total: 9, succeeded: 3, cancelled: 6 });
    // The in-flight request was aborted, and nothing of shard 3 was ever sent.
    await waitFor(() => h.llm.stats().requests.some((q) => q.aborted));
    expect(h.llm.stats().calls).toBe(4);
  });

  test('cancelled at once, before children run: every task accounted for, no failure', async () => {
    const handle = await h.start('fanOut', { tasks: tasks(5), shardSize: 1, maxConcurrent: 5 });
    await handle.cancel();
    const r = (await handle.result()) as FanOutResult;
    expect(r.results.map((x) => x.name)).toEqual(tasks(5).map((t) => t.name));
    for (const x of r.results) expect(['cancelled', 'succeeded']).toContain(x.state);
  });

  test("failFast: the failed task's own error, finished results of other shards kept", async () => {
    h.llm.setFaults([
      { match: 'Sharded task 3.', fault: { kind: 'status', status: 400, message: 'bad prompt in shard 2' } },
      { match: 'Sharded task 4.', fault: { kind: 'latency', ttftMs: 20_000 } },
      { match: 'Sharded task 5.', fault: { kind: 'latency', ttftMs: 20_000 } },
      { match: 'Sharded task 6.', fault: { kind: 'latency', ttftMs: 20_000 } },
    ]);
    const handle = await h.start('fanOut', { tasks: tasks(6), shardSize: 2, maxConcurrent: 6, failFast: true });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('TaskFailed');
    expect(cause.message).toContain('Task "n3" failed (BadRequest)');
    expect(cause.message).toContain('bad prompt in shard 2');
    const { failedTask, results } = cause.details?.[0] as { failedTask: string; results: TaskResult[] };
    expect(failedTask).toBe('task-3');
    expect(results.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'failed', 'cancelled', 'cancelled', 'cancelled']);
    expect(results[0].output).toContain('Sharded task 1.');
    // The slow siblings in the other shards were aborted at the LLM server.
    await waitFor(() => h.llm.stats().requests.filter((q) => q.aborted).length === 3);
  });

  test('large outputs shard by history bytes: no workflow history nears the 10 MB warning', async () => {
    // 150 tasks allowing 16,000-token outputs and getting ~60 KB each: ~10 MB in one history
    // before; now at most ~122 tasks (8 MB estimated) a shard.
    h.llm.setFaults([{ fault: { kind: 'latency', ttftMs: 20, outputTokens: 9_000 } }]);
    const big = tasks(150).map((t) => ({ ...t, maxTokens: 16_000 }));
    const handle = await h.start('fanOut', { tasks: big, maxConcurrent: 20 });
    const r = (await handle.result()) as FanOutResult;
    expect(r.stats).toMatchObject({ total: 150, succeeded: 150 });
    expect(r.results[149].output!.length).toBeGreaterThan(50_000);
    expect(r.shards.length).toBeGreaterThanOrEqual(2);
    const sizes: number[] = [];
    for (const id of [handle.workflowId, ...r.shards]) sizes.push((await h.client.workflow.getHandle(id).describe()).historySize ?? Infinity);
    for (const s of sizes) expect(s).toBeLessThan(SHARD_HISTORY_BYTES * 1.1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(SHARD_HISTORY_BYTES); // the outputs really were large
  });
});

async function waitFor(pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
