/**
 * Token streaming on the real dev server: text arrives while the call runs, rebuilds the result's
 * output exactly, restarts cleanly on a retry, costs nothing when off, and shrugs off garbage.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { defineSignal } from '@temporalio/workflow';
import { subscribeStream } from '../../src/client/stream';
import { StreamText, type StreamChunk, type StreamEvent, type StreamPage } from '../../src/core/stream';
import { streamQuery } from '../../src/protocol';
import type { FanOutResult } from '../../src/workflows/fan-out';
import type { DagResult } from '../../src/workflows/run-dag';
import { sharedHarness } from '../helpers/harness';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const ROOT = path.resolve(__dirname, '../..');
const decode = (p: Payload | null | undefined): unknown => (p ? defaultPayloadConverter.fromPayload(p) : undefined);
const history = async (handle: WorkflowHandle): Promise<HistoryEvent[]> => (await handle.fetchHistory()).events ?? [];
/** The chunks signalled to a run, in history order. */
const signalledChunks = (events: HistoryEvent[]): StreamChunk[] =>
  events.flatMap((e) =>
    e.workflowExecutionSignaledEventAttributes?.signalName === 'streamChunk' ? [decode(e.workflowExecutionSignaledEventAttributes.input?.payloads?.[0]) as StreamChunk] : [],
  );
/** Every activity input of a run. */
const activityInputs = (events: HistoryEvent[]) =>
  events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [decode(e.activityTaskScheduledEventAttributes.input?.payloads?.[0]) as Record<string, unknown>] : []));

/** Reads a run's whole stream into an event list (and the last page's counters) until the run closes. */
function collect(handle: WorkflowHandle, onEvent?: (e: StreamEvent) => void | Promise<void>) {
  const events: StreamEvent[] = [];
  let last: StreamPage | undefined;
  const done = (async () => {
    for await (const e of subscribeStream(handle, { intervalMs: 50, onPage: (p) => (last = p) })) {
      events.push(e);
      await onEvent?.(e);
    }
  })();
  return { events, done, last: () => last };
}

const fold = (events: StreamEvent[]) => {
  const t = new StreamText();
  for (const e of events) t.apply(e);
  return t;
};

describe('token streaming', () => {
  const h = sharedHarness({ llm: { ttftMs: 20, perTokenMs: 0, outputTokens: 10 } });
  const slowStory = { kind: 'latency' as const, ttftMs: 50, perTokenMs: 40, outputTokens: 60 };
  const dag = (extra: Record<string, unknown> = {}) => ({
    nodes: [
      { id: 'story', prompt: 'Tell a slow story about durable execution' },
      { id: 'note', prompt: 'A quick note', dependsOn: ['story'] },
    ],
    ...extra,
  });

  test('tokens arrive while the call runs, the heartbeat carries progress, and the text rebuilds the output exactly', async () => {
    h.llm.setFaults([{ match: 'slow story', fault: slowStory }]);
    const handle = await h.start('runDag', dag({ stream: true }));
    let seenWhile: { status?: string; requestFinished?: boolean } | undefined;
    const stream = collect(handle, async (e) => {
      if (seenWhile || !('text' in e) || !e.text) return;
      const req = h.llm.stats().requests.find((r) => r.prompt.includes('slow story'));
      seenWhile = { requestFinished: req?.finishedAt !== undefined, status: (await handle.describe()).status.name };
    });
    // While the story streams, its pending activity's heartbeat says how far it got.
    const progress = await (async () => {
      for (;;) {
        const d = await handle.describe();
        if (d.status.name !== 'RUNNING') throw new Error('the run ended before a progress heartbeat was seen');
        const pending = d.raw.pendingActivities ?? [];
        const details = decode(pending[0]?.heartbeatDetails?.payloads?.[0]) as { progress?: { chars: number; outputTokens?: number } } | undefined;
        if (details?.progress?.chars) return details.progress;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const r = (await handle.result()) as DagResult;
    await stream.done;

    expect(seenWhile).toEqual({ requestFinished: false, status: 'RUNNING' });
    expect(progress.chars).toBeGreaterThan(0);
    const outputs = Object.fromEntries(r.results.map((x) => [x.taskId, x.output]));
    expect(r.stats.succeeded).toBe(2);
    expect(fold(stream.events).texts()).toEqual(outputs);
    expect(stream.events.filter((e) => 'reset' in e)).toEqual([]);
    expect(fold(stream.events).calls.get('story')).toMatchObject({ done: true, attempt: 1, missing: 0 });
    // The LLM server saw streamed requests; the run's answers are what the non-streaming path returns.
    expect(h.llm.stats().requests.map((x) => x.stream)).toEqual([true, true]);

    // History cost: the story's chunks, against the same run without streaming.
    const streamed = await history(handle);
    const storyChunks = signalledChunks(streamed).filter((c) => c.callId === 'story');
    const storyTokens = r.results.find((x) => x.taskId === 'story')!.tokens!.output;
    const plainHandle = await h.start('runDag', dag());
    await plainHandle.result();
    const plain = await history(plainHandle);
    const extra = streamed.length - plain.length;
    const signals = signalledChunks(streamed).length;
    console.log(
      `streaming history cost: the story (${storyTokens} output tokens over ~${(slowStory.perTokenMs * storyTokens) / 1000} s) took ${storyChunks.length} signals; ` +
        `the run ${signals} signals and ${extra} more events than without streaming (${streamed.length} vs ${plain.length}: ${(extra / signals).toFixed(1)} events per signal)`,
    );
    expect(storyChunks.length).toBeGreaterThanOrEqual(3);
    // Batched: far fewer signals than the ~24 text deltas the server sent for the story.
    expect(storyChunks.length).toBeLessThanOrEqual(storyTokens / 2);
    expect(storyChunks.at(-1)).toMatchObject({ done: true });
  });

  test('a stream dropped mid-way: the retry resets the text, which then appears exactly once', async () => {
    h.llm.setLatency({ ttftMs: 20, perTokenMs: 30, outputTokens: 60 });
    h.llm.setFaults([{ match: 'flaky stream', times: 1, fault: { kind: 'stream-drop', afterChunks: 10 } }]);
    const handle = await h.start('fanOut', { tasks: [{ id: 'flaky', name: 'flaky', prompt: 'A flaky stream, please' }], stream: true });
    const stream = collect(handle);
    const r = (await handle.result()) as FanOutResult;
    await stream.done;

    const [task] = r.results;
    expect(task).toMatchObject({ success: true, attempts: 2 });
    const output = task.output!;
    const requests = h.llm.stats().requests;
    expect(requests.map((x) => [x.stream, x.outcome])).toEqual([
      [true, 'drop'],
      [true, 'ok'],
    ]);
    const resetAt = stream.events.findIndex((e) => 'reset' in e);
    expect(stream.events[resetAt]).toMatchObject({ callId: 'flaky', attempt: 2, reset: true });
    const textOf = (events: StreamEvent[]) => events.map((e) => ('text' in e ? e.text : '')).join('');
    const before = stream.events.slice(0, resetAt);
    const after = stream.events.slice(resetAt + 1);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((e) => e.attempt === 1)).toBe(true);
    expect(after.every((e) => e.attempt === 2)).toBe(true);
    // The first attempt's text was a true prefix (cut off); the retry's is the whole output, once.
    expect(output.startsWith(textOf(before))).toBe(true);
    expect(textOf(before).length).toBeLessThan(output.length);
    expect(textOf(after)).toBe(output);
    expect(fold(stream.events).calls.get('flaky')).toMatchObject({ text: output, attempt: 2, resets: 1, done: true, missing: 0 });
  });

  test('stream off: no signals, no streamed activity input, plain requests, no stream query', async () => {
    const handle = await h.start('runDag', dag());
    const r = (await handle.result()) as DagResult;
    expect(r.stats.succeeded).toBe(2);
    const events = await history(handle);
    expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
    const inputs = activityInputs(events);
    expect(inputs).toHaveLength(2);
    for (const input of inputs) expect(Object.keys(input)).not.toContain('stream');
    expect(h.llm.stats().requests.map((x) => x.stream)).toEqual([undefined, undefined]);
    await expect(handle.query(streamQuery, { after: 0 })).rejects.toThrow();
  });

  test('malformed streamChunk signals are ignored and counted; the run completes and streams as usual', async () => {
    h.llm.setFaults([{ match: 'slow story', fault: { ...slowStory, perTokenMs: 15 } }]);
    const handle = await h.start('runDag', dag({ stream: true }));
    const garbage = defineSignal<[unknown]>('streamChunk');
    const bad: unknown[] = [null, 'text', [1, 2], { callId: 'story' }, { callId: 'story', attempt: 0, seq: 0, text: 'x' }, { callId: 'story', attempt: 1, seq: 0, text: 7 }];
    for (const payload of bad) await handle.signal(garbage, payload);
    const stream = collect(handle);
    const r = (await handle.result()) as DagResult;
    await stream.done;
    expect(r.stats.succeeded).toBe(2);
    expect(stream.last()?.ignored).toEqual({ malformed: bad.length, stale: 0, duplicate: 0 });
    expect(fold(stream.events).texts()).toEqual(Object.fromEntries(r.results.map((x) => [x.taskId, x.output])));
  });

  test('a cache hit publishes the whole answer once, as one chunk', async () => {
    const input = { tasks: [{ id: 'cached', name: 'cached', prompt: `Cache me ${Date.now()}` }], cache: { ttlSeconds: 60 }, stream: true };
    await h.run<FanOutResult>('fanOut', input);
    const handle = await h.start('fanOut', input);
    const stream = collect(handle);
    const r = (await handle.result()) as FanOutResult;
    await stream.done;
    expect(r.results[0]).toMatchObject({ success: true, cached: true });
    expect(h.llm.stats().calls).toBe(1);
    expect(stream.events).toEqual([{ offset: 0, callId: 'cached', attempt: 1, seq: 0, text: r.results[0].output, done: true }]);
  });

  test('the CLI: dag --stream prints each node’s text as it arrives; --stream with --json is bad usage', async () => {
    h.llm.setFaults([{ match: 'slow story', fault: { ...slowStory, perTokenMs: 20 } }]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stream-cli-'));
    const file = path.join(dir, 'spec.json');
    fs.writeFileSync(file, JSON.stringify(dag()));
    const cli = (args: string[]) =>
      promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'src/cli/main.ts'), ...args], {
        cwd: ROOT,
        env: { ...process.env, TEMPORAL_ADDRESS: h.address, TEMPORAL_TASK_QUEUE: h.taskQueue, ANTHROPIC_API_KEY: '', RUNS_DIR: dir },
      }).then(
        (x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    const r = await cli(['dag', file, '--stream']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const storyLines = lines.filter((l) => l.startsWith('[story] ') && !l.startsWith('[story] ✓'));
    // Several fragments while it streamed, then the finish mark, then the note, then the table.
    expect(storyLines.length).toBeGreaterThan(1);
    expect(storyLines.map((l) => l.slice('[story] '.length)).join('')).toContain('Answer to "Tell a slow story');
    const doneAt = lines.findIndex((l) => l.startsWith('[story] ✓'));
    expect(doneAt).toBeGreaterThan(lines.indexOf(storyLines[0]));
    expect(lines.findIndex((l) => l.startsWith('[note] '))).toBeGreaterThan(doneAt);
    expect(r.stdout).toContain('succeeded');

    const bad = await cli(['dag', file, '--stream', '--json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--stream');
  });
});
