/** The answer journal on a real folder: found across buckets, pruned by whole buckets. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileAnswerJournal } from '../../src/llm/journal';

const answer = { text: 'hello', model: 'm', stopReason: 'end_turn', tokens: { input: 3, output: 5 }, durationMs: 10, storedAt: 0 };
const key = { namespace: 'default', workflowId: 'wf', runId: 'r1', activityId: '1' };

describe('FileAnswerJournal', () => {
  let dir: string;
  let now = 0;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-test-'));
    now = 10_000_000;
  });

  test('an answer is found by the same activity only, also from an older bucket', async () => {
    const j = new FileAnswerJournal(dir, 60_000, 10_000, () => now);
    await j.put(key, answer);
    now += 35_000; // three buckets later
    expect(await j.get(key)).toEqual(answer);
    expect(await j.get({ ...key, runId: 'r2' })).toBeUndefined();
    expect(await j.get({ ...key, activityId: '2' })).toBeUndefined();
    expect(fs.readdirSync(dir).join()).not.toContain('wf'); // ids never appear in file names
  });

  test('buckets past the max age are deleted whole; newer ones stay', async () => {
    const j = new FileAnswerJournal(dir, 60_000, 10_000, () => now);
    await j.put(key, answer);
    now += 30_000;
    await j.put({ ...key, activityId: '2' }, answer);
    expect(await j.prune()).toBe(0);
    now += 60_000; // the first answer is 90 s old, the second 60 s
    expect(await j.prune()).toBe(1);
    expect(await j.get(key)).toBeUndefined();
    expect(await j.get({ ...key, activityId: '2' })).toEqual(answer);
    expect(fs.readdirSync(dir)).toHaveLength(1);
  });

  test('a bucket folder removed under a running process is made again', async () => {
    const j = new FileAnswerJournal(dir, 60_000, 10_000, () => now);
    await j.put(key, answer);
    fs.rmSync(dir, { recursive: true, force: true });
    await j.put({ ...key, activityId: '9' }, answer);
    expect(await j.get({ ...key, activityId: '9' })).toEqual(answer);
  });

  test("another process's answer is found: in the current bucket at once, in a bucket made after the listing once the listing is stale", async () => {
    const reader = new FileAnswerJournal(dir, 60_000, 10_000, () => now);
    const other = new FileAnswerJournal(dir, 60_000, 10_000, () => otherNow);
    let otherNow = now;
    expect(await reader.get(key)).toBeUndefined(); // lists the (empty) folder
    await other.put(key, answer); // the current bucket, made after the listing
    expect(await reader.get(key)).toEqual(answer);
    // A writer whose clock is a bucket behind makes an older bucket after the reader listed.
    otherNow = now - 10_000;
    await other.put({ ...key, activityId: '2' }, answer);
    now += 6_000; // past the listing's 5 s
    expect(await reader.get({ ...key, activityId: '2' })).toEqual(answer);
  });

  test('a get tries only the buckets that exist, not every bucket of the max age', async () => {
    const j = new FileAnswerJournal(dir, 3_600_000, 600_000, () => now);
    await j.put(key, answer);
    // A lookup is a stat of the answer's file in one bucket (then a read when it is there).
    const opened: string[] = [];
    const real = fs.statSync;
    const spy = jest.spyOn(fs, 'statSync').mockImplementation(((p: fs.PathLike, o?: fs.StatSyncOptions) => {
      opened.push(String(p));
      return real(p, o);
    }) as typeof fs.statSync);
    try {
      expect(await j.get({ ...key, activityId: 'absent' })).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    expect(opened).toHaveLength(1); // the one bucket there is (it was 8: every bucket of the hour and one more)
  });

  test('with sinceMs a get skips the buckets older than it (less a minute of clock skew), and still finds what is newer', async () => {
    const j = new FileAnswerJournal(dir, 3_600_000, 600_000, () => now);
    // Six older buckets, one entry each (a busy worker's hour), then the current one.
    for (let i = 6; i >= 1; i--) {
      now = 10_000_000_000 - i * 600_000;
      await j.put({ ...key, activityId: `old-${i}` }, answer);
    }
    now = 10_000_000_000;
    await j.put(key, answer);
    const opened: string[] = [];
    const real = fs.statSync;
    const spy = jest.spyOn(fs, 'statSync').mockImplementation(((p: fs.PathLike, o?: fs.StatSyncOptions) => {
      opened.push(String(p));
      return real(p, o);
    }) as typeof fs.statSync);
    try {
      expect(await j.get({ ...key, activityId: 'absent' }, now - 1_000)).toBeUndefined();
      expect(opened).toHaveLength(1); // the run started in the current bucket
      opened.length = 0;
      const bucketStart = Math.floor(now / 600_000) * 600_000;
      expect(await j.get({ ...key, activityId: 'absent' }, bucketStart + 10_000)).toBeUndefined();
      expect(opened).toHaveLength(2); // 10 s into the bucket: the one before too (a minute of clock skew)
      opened.length = 0;
      expect(await j.get({ ...key, activityId: 'absent' })).toBeUndefined();
      expect(opened).toHaveLength(7); // without it: every bucket there is
      expect(await j.get(key, now - 1_000)).toEqual(answer);
      expect(await j.get({ ...key, activityId: 'old-2' }, now - 20 * 60_000)).toEqual(answer);
      expect(await j.get({ ...key, activityId: 'old-2' }, now - 5 * 60_000)).toBeUndefined(); // older than its run: cannot be its answer
    } finally {
      spy.mockRestore();
    }
  });
});
