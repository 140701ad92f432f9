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
});
