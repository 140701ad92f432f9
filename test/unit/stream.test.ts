/** Token streaming's bookkeeping: chunk validation, the bounded log, resets on retry, the subscriber's fold, and the activity's batching publisher. */
import { WorkflowNotFoundError } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { STREAM_BACKOFF_AFTER, StreamPublisher } from '../../src/activities/llm';
import { STREAM_MAX_CHUNK_CHARS, StreamLog, StreamText, parseStreamChunk, type StreamChunk, type StreamEvent } from '../../src/core/stream';

const chunk = (callId: string, attempt: number, seq: number, text: string, done?: boolean): StreamChunk => ({ callId, attempt, seq, text, ...(done ? { done } : {}) });

/** Every event of a log, read page by page as a subscriber does. */
function readAll(log: StreamLog, after = 0): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (;;) {
    const page = log.read({ after });
    out.push(...page.events);
    after = page.next;
    if (!page.more) return out;
  }
}

describe('parseStreamChunk', () => {
  it('accepts a chunk and drops extra fields', () => {
    expect(parseStreamChunk({ callId: 'a', attempt: 1, seq: 0, text: 'hi', extra: 1 })).toEqual({ callId: 'a', attempt: 1, seq: 0, text: 'hi' });
    expect(parseStreamChunk({ callId: 'a', attempt: 2, seq: 3, text: '', done: true })).toEqual({ callId: 'a', attempt: 2, seq: 3, text: '', done: true });
  });

  it.each([
    ['null', null],
    ['a string', 'chunk'],
    ['a list', [1, 2]],
    ['no callId', { attempt: 1, seq: 0, text: 'x' }],
    ['an empty callId', { callId: '', attempt: 1, seq: 0, text: 'x' }],
    ['attempt 0', { callId: 'a', attempt: 0, seq: 0, text: 'x' }],
    ['a fractional seq', { callId: 'a', attempt: 1, seq: 0.5, text: 'x' }],
    ['a negative seq', { callId: 'a', attempt: 1, seq: -1, text: 'x' }],
    ['text not a string', { callId: 'a', attempt: 1, seq: 0, text: 5 }],
    ['done not a boolean', { callId: 'a', attempt: 1, seq: 0, text: 'x', done: 'yes' }],
    ['text over the chunk limit', { callId: 'a', attempt: 1, seq: 0, text: 'x'.repeat(STREAM_MAX_CHUNK_CHARS + 1) }],
  ])('rejects %s', (_what, raw) => {
    expect(parseStreamChunk(raw)).toBeUndefined();
  });
});

describe('StreamLog', () => {
  it('keeps chunks in order at increasing offsets and pages from an offset', () => {
    const log = new StreamLog();
    log.add(chunk('a', 1, 0, 'Hel'));
    log.add(chunk('b', 1, 0, 'Other'));
    log.add(chunk('a', 1, 1, 'lo', true));
    const first = log.read({ after: 0, limit: 2 });
    expect(first.events.map((e) => e.offset)).toEqual([0, 1]);
    expect(first).toMatchObject({ next: 2, more: true, dropped: 0 });
    const rest = log.read({ after: first.next });
    expect(rest.events).toEqual([{ offset: 2, callId: 'a', attempt: 1, seq: 1, text: 'lo', done: true }]);
    expect(rest).toMatchObject({ next: 3, more: false });
    // Nothing new: an empty page at the same offset.
    expect(log.read({ after: 3 })).toMatchObject({ events: [], next: 3, more: false });
  });

  it('a chunk of a higher attempt first appends a reset; older attempts and repeated seqs are ignored and counted', () => {
    const log = new StreamLog();
    log.add(chunk('a', 1, 0, 'first try '));
    log.add(chunk('a', 1, 1, 'cut'));
    expect(log.add(chunk('a', 1, 1, 'cut'))).toBe(false);
    expect(log.add(chunk('a', 2, 0, 'second '))).toBe(true);
    expect(log.add(chunk('a', 1, 2, 'late from attempt 1'))).toBe(false);
    log.add(chunk('a', 2, 1, 'try', true));
    const events = readAll(log);
    expect(events.map((e) => ('reset' in e ? `reset@${e.attempt}` : `${e.attempt}:${e.text}`))).toEqual(['1:first try ', '1:cut', 'reset@2', '2:second ', '2:try']);
    expect(log.read({ after: 0 }).ignored).toEqual({ malformed: 0, stale: 1, duplicate: 1 });
  });

  it('the first chunk of a call is never preceded by a reset, whatever its attempt', () => {
    const log = new StreamLog();
    log.add(chunk('a', 3, 0, 'x'));
    expect(readAll(log)).toEqual([{ offset: 0, callId: 'a', attempt: 3, seq: 0, text: 'x' }]);
  });

  it('ignores and counts malformed payloads, never throwing', () => {
    const log = new StreamLog();
    for (const raw of [undefined, null, 7, 'x', [], { callId: 5 }, { callId: 'a', attempt: 1, seq: 0 }]) expect(log.add(raw)).toBe(false);
    expect(log.read({ after: 0 })).toMatchObject({ events: [], next: 0, ignored: { malformed: 7 } });
  });

  it('drops the oldest events beyond its event bound and says how many a late reader missed', () => {
    const log = new StreamLog({ maxEvents: 3 });
    for (let i = 0; i < 5; i++) log.add(chunk('a', 1, i, `${i}`));
    const page = log.read({ after: 0 });
    expect(page.events.map((e) => e.offset)).toEqual([2, 3, 4]);
    expect(page).toMatchObject({ dropped: 2, droppedTotal: 2, next: 5 });
    // A reader that was up to date misses nothing.
    expect(log.read({ after: 3 })).toMatchObject({ dropped: 0, droppedTotal: 2 });
  });

  it('drops the oldest events beyond its text bound, always keeping the newest', () => {
    const log = new StreamLog({ maxChars: 10 });
    log.add(chunk('a', 1, 0, '123456'));
    log.add(chunk('a', 1, 1, '7890'));
    expect(readAll(log)).toHaveLength(2);
    log.add(chunk('a', 1, 2, 'x'));
    expect(readAll(log).map((e) => ('text' in e ? e.text : ''))).toEqual(['7890', 'x']);
    log.add(chunk('b', 1, 0, 'y'.repeat(50)));
    expect(readAll(log).map((e) => e.callId)).toEqual(['b']);
  });

  it('reads garbage offsets as 0 and an offset past the end as the end', () => {
    const log = new StreamLog();
    log.add(chunk('a', 1, 0, 'x'));
    expect(log.read(undefined).events).toHaveLength(1);
    expect(log.read({ after: -4 }).events).toHaveLength(1);
    expect(log.read({ after: 'x' as unknown as number }).events).toHaveLength(1);
    expect(log.read({ after: 99 })).toMatchObject({ events: [], next: 1 });
  });

  it('a page holds at most about 256 KB of text, but always one event', () => {
    const log = new StreamLog();
    for (let i = 0; i < 6; i++) log.add(chunk('a', 1, i, 'x'.repeat(60_000)));
    const page = log.read({ after: 0 });
    expect(page.events).toHaveLength(4);
    expect(page.more).toBe(true);
    expect(readAll(log)).toHaveLength(6);
  });
});

describe('StreamText', () => {
  it("folds chunks into each call's text; a reset clears it; stale and repeated chunks change nothing", () => {
    const log = new StreamLog();
    for (const c of [chunk('a', 1, 0, 'Hel'), chunk('b', 1, 0, 'B'), chunk('a', 1, 1, 'lo wo'), chunk('a', 2, 0, 'Hello '), chunk('a', 2, 1, 'world', true)]) log.add(c);
    const t = new StreamText();
    const events = readAll(log);
    for (const e of events) t.apply(e);
    expect(t.texts()).toEqual({ a: 'Hello world', b: 'B' });
    expect(t.calls.get('a')).toMatchObject({ attempt: 2, done: true, resets: 1, missing: 0 });
    // Applying everything again (a subscriber that re-read) changes nothing.
    for (const e of events) expect(t.apply(e)).toBeUndefined();
    expect(t.texts()).toEqual({ a: 'Hello world', b: 'B' });
  });

  it('a chunk of a newer attempt whose reset was missed still restarts the text', () => {
    const t = new StreamText();
    t.apply({ offset: 0, callId: 'a', attempt: 1, seq: 0, text: 'old' });
    t.apply({ offset: 5, callId: 'a', attempt: 2, seq: 0, text: 'new' });
    expect(t.calls.get('a')).toMatchObject({ text: 'new', resets: 1 });
  });

  it('counts chunks it never saw (dropped before it read them)', () => {
    const t = new StreamText();
    t.apply({ offset: 7, callId: 'a', attempt: 1, seq: 3, text: 'tail', done: true });
    expect(t.calls.get('a')).toMatchObject({ text: 'tail', missing: 3, done: true });
  });
});

describe('StreamPublisher', () => {
  const env = new MockActivityEnvironment();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const until = async (cond: () => boolean) => {
    while (!cond()) await sleep(5);
  };

  /** A publisher whose sends are recorded (and fail while `fail` says so). */
  function recording(o: { flushMs?: number; flushChars?: number; live?: boolean } = {}, fail?: (c: StreamChunk) => Error | undefined) {
    const sent: StreamChunk[] = [];
    const tried: StreamChunk[] = [];
    const p = new StreamPublisher(
      async (c) => {
        tried.push(c);
        await sleep(1);
        const err = fail?.(c);
        if (err) throw err;
        sent.push(c);
      },
      'node-1',
      2,
      { flushMs: 30, ...o },
    );
    return { p, sent, tried };
  }

  it('batches deltas: many at once become one chunk, the end adds done', async () => {
    await env.run(async () => {
      const { p, sent } = recording();
      for (const w of ['Hello', ' ', 'streamed', ' ', 'world']) p.text(w);
      await until(() => sent.length > 0);
      expect(sent).toEqual([{ callId: 'node-1', attempt: 2, seq: 0, text: 'Hello streamed world' }]);
      expect(p.progress()).toEqual({ progress: { chars: 20 } });
      await p.end('Hello streamed world');
      expect(sent.at(-1)).toEqual({ callId: 'node-1', attempt: 2, seq: 1, text: '', done: true });
    });
  });

  it('flushes at once when enough text waits, and in order', async () => {
    await env.run(async () => {
      const { p, sent } = recording({ flushMs: 10_000, flushChars: 4 });
      p.text('ab');
      p.text('cd');
      p.text('ef');
      await p.end('abcdefgh');
      expect(sent.map((c) => c.text).join('')).toBe('abcdefgh');
      expect(sent.map((c) => c.seq)).toEqual(sent.map((_, i) => i));
      expect(sent.at(-1)?.done).toBe(true);
    });
  });

  it("after a few chunks, waits for more text per chunk (bounding a long reply's signals)", async () => {
    await env.run(async () => {
      const { p, sent } = recording({ flushMs: 10_000, flushChars: 4 });
      // One character at a time, each flush awaited: a chunk goes once 4 × max(1, chunks / 8) characters wait.
      let waiting = 0;
      for (let i = 0; i < 200; i++) {
        p.text('x');
        waiting++;
        if (waiting >= 4 * Math.max(1, sent.length / STREAM_BACKOFF_AFTER)) {
          const n = sent.length;
          await until(() => sent.length === n + 1);
          waiting = 0;
        }
      }
      await p.end('x'.repeat(200));
      const sizes = sent.map((c) => c.text.length);
      expect(sizes.slice(0, STREAM_BACKOFF_AFTER)).toEqual(Array(STREAM_BACKOFF_AFTER).fill(4));
      expect(sizes.slice(STREAM_BACKOFF_AFTER * 2, STREAM_BACKOFF_AFTER * 2 + 3)).toEqual([8, 9, 9]);
      expect(sent.length).toBeLessThan(200 / 4);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(200);
    });
  });

  it('publishes a whole answer (a cache hit, a structured output) once, in pieces a signal can carry', async () => {
    await env.run(async () => {
      const { p, sent } = recording({ live: false });
      p.text('ignored: not live');
      const answer = 'y'.repeat(STREAM_MAX_CHUNK_CHARS + 10);
      await p.end(answer);
      expect(sent.map((c) => c.text.length)).toEqual([STREAM_MAX_CHUNK_CHARS, 10]);
      expect(sent.map((c) => c.done)).toEqual([undefined, true]);
      expect(sent.map((c) => c.text).join('')).toBe(answer);
    });
  });

  it('a failed send is dropped and the stream goes on; a workflow that is gone stops it', async () => {
    await env.run(async () => {
      const { p, sent, tried } = recording({ flushChars: 1 }, (c) => (c.seq === 0 ? new Error('unavailable') : undefined));
      p.text('a');
      await until(() => tried.length === 1);
      p.text('b');
      await until(() => sent.length === 1);
      await p.end('ab');
      expect(sent.map((c) => [c.seq, c.text])).toEqual([
        [1, 'b'],
        [2, ''],
      ]);

      const gone = recording({ flushChars: 1 }, () => new WorkflowNotFoundError('gone', 'wf', undefined));
      gone.p.text('a');
      gone.p.text('b');
      await gone.p.end('ab');
      expect(gone.sent).toEqual([]);
    });
  });

  it('abandon drops what waits and sends nothing more', async () => {
    await env.run(async () => {
      const { p, sent } = recording();
      p.text('partial');
      p.abandon();
      p.text('more');
      await p.end('partial more');
      await sleep(60);
      expect(sent).toEqual([]);
    });
  });

  it('the chunks it sends rebuild the answer through the log and the fold', async () => {
    await env.run(async () => {
      const { p, sent } = recording({ flushMs: 5 });
      const words = Array.from({ length: 40 }, (_, i) => `w${i} `);
      for (const w of words) {
        p.text(w);
        if (words.indexOf(w) % 7 === 0) await sleep(8);
      }
      await p.end(words.join(''));
      const log = new StreamLog();
      for (const c of sent) log.add(c);
      const t = new StreamText();
      for (const e of readAll(log)) t.apply(e);
      expect(sent.length).toBeGreaterThan(2);
      expect(t.texts()).toEqual({ 'node-1': words.join('') });
    });
  });
});
