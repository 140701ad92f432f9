/**
 * The response cache on the real file store: hits, TTL, and identical calls shared across
 * "processes" (two ResponseCache instances over one directory have separate in-flight maps, so
 * only the store's claim can make them share).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileCacheStore, ResponseCache, cacheKey, type CachedResponse } from '../../src/llm/cache';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cache-unit-'));
const response = (text: string): CachedResponse => ({ text, model: 'm', stopReason: 'end_turn', tokens: { input: 3, output: 4 }, durationMs: 1, storedAt: Date.now() });
const key = cacheKey({ model: 'm', prompt: 'p', maxTokens: 10 });

/**
 * A call that resolves when told to, counting how often it was made. Told before the call has
 * started (the cache's file operations can take longer than a tick on a loaded machine), the
 * next call settles at once with it.
 */
function controlledCall() {
  let calls = 0;
  let current: { res: (r: CachedResponse) => void; rej: (e: Error) => void } | undefined;
  let early: ((c: { res: (r: CachedResponse) => void; rej: (e: Error) => void }) => void) | undefined;
  const call = () => {
    calls++;
    return new Promise<CachedResponse>((res, rej) => {
      if (early) {
        early({ res, rej });
        early = undefined;
      } else current = { res, rej };
    });
  };
  const settle = (f: (c: { res: (r: CachedResponse) => void; rej: (e: Error) => void }) => void) => {
    if (current) {
      const c = current;
      current = undefined;
      f(c);
    } else early = f;
  };
  return { call, calls: () => calls, finish: (t: string) => settle((c) => c.res(response(t))), fail: (m: string) => settle((c) => c.rej(new Error(m))) };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits until `pred` holds (file operations are slower on a loaded machine), at most 5 s. */
const until = async (pred: () => boolean) => {
  for (let i = 0; i < 500 && !pred(); i++) await tick(10);
};

/** Two "processes" (caches with their own in-flight maps over one directory) making the same call, a first. */
async function sameCallInTwoProcesses() {
  const d = dir();
  const a = new ResponseCache(new FileCacheStore(d));
  const b = new ResponseCache(new FileCacheStore(d));
  const ca = controlledCall();
  const cb = controlledCall();
  const ra = a.getOrCall(key, 60_000, ca.call);
  await tick(20);
  const rb = b.getOrCall(key, 60_000, cb.call);
  return { d, ca, cb, ra, rb };
}

describe('response cache', () => {
  test('a stored answer is a hit within its TTL and a miss after it', async () => {
    const store = new FileCacheStore(dir());
    const cache = new ResponseCache(store);
    const c = controlledCall();
    const first = cache.getOrCall(key, 60_000, c.call);
    await tick(20);
    c.finish('one');
    expect(await first).toMatchObject({ hit: false, shared: false, response: { text: 'one' } });
    expect(await cache.getOrCall(key, 60_000, c.call)).toMatchObject({ hit: true, response: { text: 'one' } });
    // TTL 0: stale, so the call is made again.
    const again = cache.getOrCall(key, 0, c.call);
    await tick(20);
    c.finish('two');
    expect((await again).response.text).toBe('two');
    expect(c.calls()).toBe(2);
  });

  test('identical calls in two processes sharing the store make one request', async () => {
    const { d, ca, cb, ra, rb } = await sameCallInTwoProcesses();
    await tick(300);
    expect(ca.calls()).toBe(1);
    // b waits on a's claim instead of calling.
    expect(cb.calls()).toBe(0);
    expect(fs.existsSync(path.join(d, `${key}.lock`))).toBe(true);
    ca.finish('from a');
    expect(await ra).toMatchObject({ shared: false, response: { text: 'from a' } });
    expect(await rb).toMatchObject({ shared: true, hit: false, response: { text: 'from a' } });
    expect(cb.calls()).toBe(0);
    expect(fs.existsSync(path.join(d, `${key}.lock`))).toBe(false);
  });

  test('when the claimant fails, the waiting process makes the call itself', async () => {
    const { ca, cb, ra, rb } = await sameCallInTwoProcesses();
    await tick(200);
    ca.fail('boom');
    await expect(ra).rejects.toThrow('boom');
    await until(() => cb.calls() === 1);
    expect(cb.calls()).toBe(1);
    cb.finish('from b');
    expect(await rb).toMatchObject({ shared: false, response: { text: 'from b' } });
  });

  test('a claim whose holder died (not renewed within the lease) is taken over', async () => {
    const d = dir();
    const store = new FileCacheStore(d);
    // A lock left by a process that died: its mtime is older than the lease.
    const lock = path.join(d, `${key}.lock`, '1');
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, 'dead-process');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    const cache = new ResponseCache(store, 1000);
    const c = controlledCall();
    const r = cache.getOrCall(key, 60_000, c.call);
    await until(() => c.calls() === 1);
    expect(c.calls()).toBe(1);
    c.finish('after takeover');
    expect((await r).response.text).toBe('after takeover');
    // A live claim is not taken over.
    const held = await store.claim(key, 10_000);
    expect(held).toBeDefined();
    expect(await store.claim(key, 10_000)).toBeUndefined();
    await held!.release();
    expect(await store.claim(key, 10_000)).toBeDefined();
  });

  test('a caller waiting on another process stops waiting when its activity is cancelled', async () => {
    const d = dir();
    const a = new ResponseCache(new FileCacheStore(d));
    const b = new ResponseCache(new FileCacheStore(d));
    const ca = controlledCall();
    void a.getOrCall(key, 60_000, ca.call).catch(() => {});
    await tick(20);
    const ac = new AbortController();
    const rb = b.getOrCall(key, 60_000, controlledCall().call, ac.signal);
    await tick(150);
    ac.abort(new Error('cancelled'));
    await expect(rb).rejects.toThrow('cancelled');
    ca.finish('done');
  });

  test('prune deletes entries older than the maximum age and leftovers of dead processes, nothing else', async () => {
    const d = dir();
    const store = new FileCacheStore(d);
    await store.set('old', response('old'));
    await store.set('new', response('new'));
    for (const l of ['gone.lock', 'held.lock']) {
      fs.mkdirSync(path.join(d, l));
      fs.writeFileSync(path.join(d, l, '1'), 'x');
    }
    fs.writeFileSync(path.join(d, 'notes.txt'), 'not ours');
    const age = (f: string, ms: number) => fs.utimesSync(path.join(d, f), new Date(Date.now() - ms), new Date(Date.now() - ms));
    age('old.json', 10 * 86_400_000);
    age('new.json', 1 * 86_400_000);
    age('gone.lock/1', 2 * 3_600_000);
    age('notes.txt', 100 * 86_400_000);
    expect(await store.prune(7 * 86_400_000)).toBe(2);
    expect(fs.readdirSync(d).sort()).toEqual(['held.lock', 'new.json', 'notes.txt']);
    expect(await new FileCacheStore(path.join(d, 'missing')).prune(1)).toBe(0);
  });

  test('a waiter in the same process honours its own cancellation; the owner goes on', async () => {
    const cache = new ResponseCache(new FileCacheStore(dir()));
    const owner = controlledCall();
    const ro = cache.getOrCall(key, 60_000, owner.call);
    await tick(20);
    const ac = new AbortController();
    const waiter = controlledCall();
    const rw = cache.getOrCall(key, 60_000, waiter.call, ac.signal);
    await tick(20);
    ac.abort(new Error('waiter cancelled'));
    await expect(rw).rejects.toThrow('waiter cancelled');
    owner.finish('for the owner');
    expect((await ro).response.text).toBe('for the owner');
    expect(waiter.calls()).toBe(0);
  });

  test("when the owner in the same process is cancelled, its waiters make the call (once) instead of failing with the owner's cancellation", async () => {
    const cache = new ResponseCache(new FileCacheStore(dir()));
    const owner = controlledCall();
    const ro = cache.getOrCall(key, 60_000, owner.call);
    await tick(20);
    const w = controlledCall();
    const r1 = cache.getOrCall(key, 60_000, w.call);
    const r2 = cache.getOrCall(key, 60_000, w.call);
    await tick(20);
    owner.fail('owner cancelled');
    await expect(ro).rejects.toThrow('owner cancelled');
    await until(() => w.calls() >= 1);
    await tick(50);
    expect(w.calls()).toBe(1);
    w.finish('made by a waiter');
    expect((await r1).response.text).toBe('made by a waiter');
    expect((await r2).response.text).toBe('made by a waiter');
  });

  test('several processes racing to take over a dead claim: exactly one wins', async () => {
    const d = dir();
    const tsx = path.resolve(__dirname, '../../node_modules/.bin/tsx');
    const mod = path.resolve(__dirname, '../../src/llm/cache.ts');
    const go = path.join(d, 'go');
    for (let round = 0; round < 3; round++) {
      const k = `${key}-${round}`;
      // The dead holder's claim: not renewed for a minute.
      fs.mkdirSync(path.join(d, `${k}.lock`), { recursive: true });
      fs.writeFileSync(path.join(d, `${k}.lock`, '1'), 'dead');
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(path.join(d, `${k}.lock`, '1'), old, old);
      fs.rmSync(go, { force: true });
      const script = `
        const fs = require('node:fs');
        const { FileCacheStore } = require(${JSON.stringify(mod)});
        const store = new FileCacheStore(${JSON.stringify(d)});
        console.log('ready');
        const wait = () => fs.existsSync(${JSON.stringify(go)}) ? race() : setTimeout(wait, 2);
        const race = async () => { const c = await store.claim(${JSON.stringify(k)}, 5000); console.log(c ? 'won' : 'lost'); setTimeout(() => process.exit(0), 300); };
        wait();`;
      const procs = Array.from({ length: 6 }, () => {
        const p = spawn(tsx, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (b: Buffer) => (out += b.toString()));
        return { out: () => out, done: new Promise<void>((r) => p.on('exit', () => r())) };
      });
      while (!procs.every((p) => p.out().includes('ready'))) await tick(20);
      fs.writeFileSync(go, '');
      await Promise.all(procs.map((p) => p.done));
      const outcomes = procs.map((p) => p.out().trim().split('\n').pop());
      expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'lost')).toHaveLength(5);
    }
  }, 60_000);
});

describe('cacheKey', () => {
  const output = { name: 'record_subtasks', description: 'Records subtasks.', schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } };
  test('a structured output is part of the key; a call without one keeps its old key', () => {
    const base = { model: 'm', prompt: 'p', maxTokens: 10 };
    expect(cacheKey(base)).toBe(key);
    const withOutput = cacheKey({ ...base, output });
    expect(withOutput).not.toBe(key);
    expect(cacheKey({ ...base, output: { ...output, name: 'other' } })).not.toBe(withOutput);
    expect(cacheKey({ ...base, output: { ...output, schema: { ...output.schema, required: [] } } })).not.toBe(withOutput);
    // The same schema written in another key order is the same call.
    expect(cacheKey({ ...base, output: { ...output, schema: { required: ['a'], properties: { a: { type: 'string' } }, type: 'object' } } })).toBe(withOutput);
  });
});
