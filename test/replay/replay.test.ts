/**
 * Replays every committed history (test/histories, recorded by `npm run histories:record`)
 * against the current workflow code: a change that would break runs in flight fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { HISTORY_SCENARIOS, LIMITER_HISTORY } from '../../src/core/history-scenarios';
import { quietRuntime } from '../helpers/runtime';

const DIR = path.join(__dirname, '..', 'histories');
/** Recorded before permits were asked for in batches (kept, not re-recorded). */
const LIMITER_V1 = 'llmLimiter-v1';
/** Recorded before the bounded state (patch `limiter-usage-buckets`): replays through the old accounting. */
const LIMITER_V2 = 'llmLimiter-v2';
/** Recorded before leases (patch `limiter-leases`): permits judged alone, bounded state. */
const LIMITER_V3 = 'llmLimiter-v3';
/** The patch ids recorded in a history file (its `core_patch` markers). */
const patchesIn = (name: string): string[] => {
  const raw = JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8')) as {
    events: { markerRecordedEventAttributes?: { markerName: string; details: Record<string, { payloads: { data: string }[] }> } }[];
  };
  return raw.events
    .map((e) => e.markerRecordedEventAttributes)
    .filter((m) => m?.markerName === 'core_patch')
    .map((m) => JSON.parse(Buffer.from(m!.details['patch-data'].payloads[0].data, 'base64').toString('utf8')) as { id: string })
    .map((p) => p.id);
};
const load = (name: string) => historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8')));

describe('replay of recorded histories', () => {
  beforeAll(() => quietRuntime());
  const bundle = { codePath: process.env.TEST_WORKFLOW_BUNDLE! };

  test('a history is committed for every scenario and every workflow type', () => {
    const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(
      [...HISTORY_SCENARIOS.map((s) => `${s.name}.json`), `${LIMITER_HISTORY.name}.json`, `${LIMITER_V1}.json`, `${LIMITER_V2}.json`, `${LIMITER_V3}.json`].sort(),
    );
    expect(new Set(HISTORY_SCENARIOS.map((s) => s.workflowType))).toEqual(new Set(['fanOut', 'runDag', 'decomposeAndSynthesize', 'pipeline', 'competitiveIntel', 'agent']));
  });

  test.each(HISTORY_SCENARIOS.map((s) => [s.name]))('%s replays deterministically with the current code', async (name) => {
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, load(name), `history-${name}`)).resolves.toBeUndefined();
  });

  test('the llmLimiter history (lease renewals through updates, usage in aggregate) replays', async () => {
    const history = load(LIMITER_HISTORY.name);
    expect(JSON.stringify(history)).toContain('renewLease');
    expect(patchesIn(LIMITER_HISTORY.name)).toEqual(['limiter-usage-buckets', 'limiter-leases']);
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, LIMITER_HISTORY.workflowId)).resolves.toBeUndefined();
  });

  test('a limiter history recorded before leases (batches of permits, settle signals, bounded state) replays, permits judged alone', async () => {
    const history = load(LIMITER_V3);
    expect(JSON.stringify(history)).toContain('acquirePermits');
    expect(patchesIn(LIMITER_V3)).toEqual(['limiter-usage-buckets']);
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, LIMITER_HISTORY.workflowId)).resolves.toBeUndefined();
  });

  test('a limiter history recorded before the bounded state replays (the old accounting, behind patched())', async () => {
    const history = load(LIMITER_V2);
    expect(JSON.stringify(history)).toContain('acquirePermits');
    expect(patchesIn(LIMITER_V2)).toEqual([]);
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, LIMITER_HISTORY.workflowId)).resolves.toBeUndefined();
  });

  test('a limiter history of the first protocol (one permit per update) still replays', async () => {
    const history = load(LIMITER_V1);
    expect(JSON.stringify(history)).toContain('"acquirePermit"');
    expect(JSON.stringify(history)).not.toContain('acquirePermits');
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, LIMITER_HISTORY.workflowId)).resolves.toBeUndefined();
  });

  test('a change that reorders activity calls is caught as a DeterminismViolationError', async () => {
    const changed = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/reranked-workflows'), logger: quiet });
    await expect(Worker.runReplayHistory({ workflowBundle: changed }, load('runDag-tool-order'), 'history-runDag-tool-order')).rejects.toThrow(DeterminismViolationError);
    // The same fixture still replays a history where the change does not matter (one node ready at a time).
    await expect(Worker.runReplayHistory({ workflowBundle: changed }, load('runDag-skip'), 'history-runDag-skip')).resolves.toBeUndefined();
  });
});

const noop = () => undefined;
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
