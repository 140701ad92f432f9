/** Hedged requests (pure timing logic with fake requests). */
import { LatencyTracker, hedgedRace } from '../../src/llm/hedging';

const after = <T>(ms: number, v: T, signal: AbortSignal, fail = false) =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => (fail ? reject(new Error(String(v))) : resolve(v)), ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    });
  });

describe('hedging', () => {
  test('a slow first request is raced by a second after the delay; the loser is aborted', async () => {
    const signals: AbortSignal[] = [];
    let hedged = 0;
    const latencies = [1000, 20];
    const r = await hedgedRace(
      (s, sent) => (sent(), signals.push(s), after(latencies[signals.length - 1], `req${signals.length}`, s)),
      50,
      new AbortController().signal,
      () => hedged++,
    );
    expect(r).toBe('req2');
    expect(hedged).toBe(1);
    expect(signals[0].aborted).toBe(true);
  });

  test('a fast request never hedges', async () => {
    let hedged = 0;
    await expect(
      hedgedRace(
        (s) => after(10, 'ok', s),
        100,
        new AbortController().signal,
        () => hedged++,
      ),
    ).resolves.toBe('ok');
    await new Promise((r) => setTimeout(r, 150));
    expect(hedged).toBe(0);
  });

  test('a failure before the hedge is returned at once; after it, the other request still counts', async () => {
    await expect(
      hedgedRace(
        (s) => after(5, 'bad request', s, true),
        100,
        new AbortController().signal,
        () => undefined,
      ),
    ).rejects.toThrow('bad request');
    let n = 0;
    await expect(
      hedgedRace(
        (s, sent) => (sent(), ++n === 1 ? after(100, 'first failed late', s, true) : after(10, 'second ok', s)),
        20,
        new AbortController().signal,
        () => undefined,
      ),
    ).resolves.toBe('second ok');
  });

  test('the delay counts from when the request is sent, not from the wait for admission before it', async () => {
    let hedged = 0;
    // 300 ms waiting for a permit, then a 50 ms request: never slower than the 100 ms delay.
    const start = async (s: AbortSignal, sent: () => void) => {
      await after(300, null, s);
      sent();
      return after(50, 'ok', s);
    };
    await expect(hedgedRace(start, 100, new AbortController().signal, () => hedged++)).resolves.toBe('ok');
    expect(hedged).toBe(0);
    // The same wait with a slow request still hedges, 100 ms after it was sent.
    let n = 0;
    const slow = async (s: AbortSignal, sent: () => void) => {
      if (++n === 1) {
        await after(300, null, s);
        sent();
        return after(1000, 'slow', s);
      }
      sent();
      return after(10, 'hedge', s);
    };
    const t0 = Date.now();
    await expect(hedgedRace(slow, 100, new AbortController().signal, () => hedged++)).resolves.toBe('hedge');
    expect(hedged).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
  });

  test('the parent signal aborts both', async () => {
    const parent = new AbortController();
    const p = hedgedRace(
      (s) => after(1000, 'x', s),
      10,
      parent.signal,
      () => undefined,
    );
    setTimeout(() => parent.abort(), 30);
    await expect(p).rejects.toThrow('aborted');
  });

  test('the tracker hedges at the percentile once it has enough samples', () => {
    const t = new LatencyTracker(95, 200, 20);
    for (let i = 1; i <= 19; i++) t.observe('m', i * 10);
    expect(t.delayFor('m')).toBeUndefined();
    t.observe('m', 200);
    expect(t.delayFor('m')).toBe(200);
    expect(t.delayFor('other')).toBeUndefined();
  });
});
