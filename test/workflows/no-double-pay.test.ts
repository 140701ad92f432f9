/**
 * No paying twice: a worker process killed after the provider answered but before the activity
 * completed (held there by the test-only pause hook) → the retry returns that answer, and the LLM
 * server saw exactly one request. Once through the shared answer journal, once through the
 * heartbeat details alone (a retry on a machine that cannot see the journal).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FanOutResult } from '../../src/workflows/fan-out';
import { startHarness, type Harness } from '../helpers/harness';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

jest.setTimeout(90_000);

describe('a worker killed between the answer and the completion', () => {
  let h: Harness;
  let proc: WorkerProcess | undefined;
  beforeEach(async () => {
    h = await startHarness({ startWorkers: false, llm: { ttftMs: 50, perTokenMs: 0, outputTokens: 20 } });
  });
  afterEach(async () => {
    proc?.kill();
    proc = undefined;
    await h?.close();
  });

  const killAfterAnswer = async (journalDir: string, heartbeatThrottleMs: number): Promise<FanOutResult> => {
    proc = await startWorkerProcess({
      TEMPORAL_ADDRESS: h.address,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      ANTHROPIC_BASE_URL: h.llm.url,
      LLM_JOURNAL_DIR: journalDir,
      PAYLOAD_STORE_DIR: h.payloadStoreDir,
      CACHE_DIR: h.cacheDir,
      LLM_HEARTBEAT_THROTTLE_MS: String(heartbeatThrottleMs),
      TEST_ONLY_PAUSE_AFTER_LLM_ANSWER_MS: '60000',
      LOG_LEVEL: 'WARN',
    });
    const handle = await h.start('fanOut', { tasks: [{ name: 'only', prompt: 'Answer once, pay once.' }] });
    const deadline = Date.now() + 30_000;
    while (!proc.output().includes('TEST-ONLY pause after the LLM answer')) {
      if (Date.now() > deadline) throw new Error(`the worker never paused after the answer:\n${proc.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(h.llm.stats().calls).toBe(1);
    // With a 1 s throttle a heartbeat carrying the answer reaches the server meanwhile; with 8 s it cannot.
    await new Promise((r) => setTimeout(r, 1500));
    proc.kill();
    proc = undefined;
    // A new worker (in this process) takes the retry once the heartbeat timeout expires.
    await h.startWorkers();
    return (await handle.result()) as FanOutResult;
  };

  test('the retry returns the journaled answer: one request at the LLM server', async () => {
    // The throttle keeps the answer's heartbeat from reaching the server: only the journal can help.
    const r = await killAfterAnswer(h.journalDir, 8000);
    expect(r.results[0]).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect(r.results[0].output).toContain('Answer once, pay once.');
    expect(r.results[0].tokens.output).toBe(20);
    expect(h.llm.stats().calls).toBe(1);
  });

  test('without a shared journal, the heartbeat details carry the answer to the retry', async () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-elsewhere-'));
    const r = await killAfterAnswer(elsewhere, 1000);
    expect(r.results[0]).toMatchObject({ state: 'succeeded', attempts: 2 });
    expect(r.results[0].output).toContain('Answer once, pay once.');
    expect(h.llm.stats().calls).toBe(1);
    expect(fs.readdirSync(h.journalDir)).toEqual([]); // the in-process worker's journal was not what helped
  });
});
