/**
 * What one fan-out task costs the workflow thread in promises. The SDK's promise hook captures and
 * formats a stack trace for every promise created in workflow code (for the Web UI's stack trace
 * view), and at N = 100 that was half of the first workflow task: README Performance. The count is
 * taken by replaying real histories in this thread (the replayer runs workflows here) with a promise
 * hook that counts the promises of workflow contexts, and taken as a difference between two run
 * sizes, so the workflow's fixed cost (start, validation, result) cancels out.
 */
import { promiseHooks } from 'node:v8';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { Stubs, UnitEnv } from './env';
import type { BoundedInput } from './workflows';

/*
 * Bounds per task. Measured: 8.2–8.7 with every task at once and about 12.4 under a cap (the
 * stubbed calls end one per workflow task there; every activation costs a few promises, and a
 * capped batch waits on a condition per slot freed); before the scheduler's then chains and its
 * synchronous fan-out slots, 13.5 and 19.0. SDK 1.24's activity scheduling alone takes about 5.
 * The counts move a little with how the test server batched the completions.
 */
const AT_ONCE_MAX = 11;
const CAPPED_MAX = 15;

let unit: UnitEnv;

beforeAll(async () => {
  unit = await UnitEnv.start();
}, 60_000);
afterAll(async () => {
  await unit?.teardown();
});

/** Promises created in workflow contexts (not this realm's) while the history replays. */
async function workflowPromisesInReplay(h: WorkflowHandle): Promise<number> {
  const history = await h.fetchHistory();
  let count = 0;
  const stop = promiseHooks.onInit((p: Promise<unknown>) => {
    if (p.constructor !== Promise) count++;
  });
  try {
    await Worker.runReplayHistory({ workflowBundle: unit.bundle, replayName: 'promise-cost' }, history, h.workflowId);
  } finally {
    stop();
  }
  return count;
}

async function fanOut(n: number, maxConcurrent: number): Promise<number> {
  const input: BoundedInput = { tasks: Array.from({ length: n }, (_, i) => `t${i}`), maxConcurrent };
  const h = await unit.start('boundedWorkflow', input, new Stubs());
  await h.result();
  return workflowPromisesInReplay(h);
}

test.each([
  ['all tasks at once (k = N)', (n: number) => n, AT_ONCE_MAX],
  ['under a cap (k = 5)', () => 5, CAPPED_MAX],
])(
  'a fan-out task costs few workflow promises: %s',
  async (label, k, max) => {
    const small = await fanOut(10, k(10));
    const large = await fanOut(60, k(60));
    // The replay ran the workflow in this thread: otherwise the hook saw nothing and the bound says nothing.
    expect(small).toBeGreaterThan(10);
    expect(large).toBeGreaterThan(small);
    const perTask = (large - small) / 50;
    console.log(`workflow promises per fan-out task (${label}): ${perTask.toFixed(1)} (10 tasks: ${small}, 60 tasks: ${large})`);
    expect(perTask).toBeLessThanOrEqual(max);
  },
  60_000,
);
