/** Validation and statistics of fan-out runs (pure). */
import { BudgetShares } from '../../src/core/budget';
import {
  FANOUT_SHARD_SIZE,
  InvalidInputError,
  SHARD_HISTORY_BYTES,
  assertPayloadSize,
  computeStats,
  estimateTaskHistoryBytes,
  shardTasks,
  validateFanOutInput,
} from '../../src/core/tasks';

describe('validateFanOutInput', () => {
  test('accepts a valid list and assigns ids by position', () => {
    const { tasks } = validateFanOutInput({
      tasks: [
        { name: 'a', prompt: 'p' },
        { id: 'x', name: 'b', prompt: 'q' },
      ],
    });
    expect(tasks.map((t) => t.taskId)).toEqual(['task-1', 'x']);
  });
  test.each([
    [{ tasks: [] }, 'tasks: must not be empty'],
    [{}, 'tasks: must be a list of tasks'],
    [{ tasks: [{ name: 'a' }] }, 'tasks[0].prompt'],
    [{ tasks: [{ name: 'a', prompt: '  ' }] }, 'tasks[0].prompt: must not be empty'],
    [{ tasks: [{ name: 'a', prompt: 'p' }], maxConcurrent: 0 }, 'maxConcurrent: must be at least 1'],
    [{ tasks: [{ name: 'a', prompt: 'p' }], maxConcurrent: 1.5 }, 'maxConcurrent: must be a whole number'],
    [
      {
        tasks: [
          { name: 'a', prompt: 'p' },
          { name: 'a', prompt: 'q' },
        ],
      },
      'duplicate task names: a',
    ],
    [
      {
        tasks: [
          { id: 'k', name: 'a', prompt: 'p' },
          { id: 'k', name: 'b', prompt: 'q' },
        ],
      },
      'duplicate task ids: k',
    ],
    [{ tasks: [{ name: 'a', prompt: 'p' }], shardSize: 0 }, 'shardSize: must be at least 1'],
    [{ tasks: [{ name: 'a', prompt: 'p' }], shardSize: 5000 }, 'shardSize: must be at most 1000'],
  ])('rejects %j with "%s"', (input, message) => {
    expect(() => validateFanOutInput(input)).toThrow(InvalidInputError);
    expect(() => validateFanOutInput(input)).toThrow(message);
  });
});

describe('every problem named at once', () => {
  test('an empty prompt, duplicate names and maxConcurrent 0 are all reported', () => {
    const input = {
      tasks: [
        { name: 'a', prompt: 'x' },
        { name: 'a', prompt: '' },
        { name: 'b', prompt: 'y', id: 'task-1' },
      ],
      maxConcurrent: 0,
    };
    let message = '';
    try {
      validateFanOutInput(input);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('tasks[1].prompt: must not be empty');
    expect(message).toContain('maxConcurrent: must be at least 1');
    expect(message).toContain('duplicate task names: a');
    expect(message).toContain('duplicate task ids: task-1');
  });
});

describe('shardTasks', () => {
  const t = (maxTokens?: number, prompt = 'p') => ({ prompt, maxTokens });
  test('small tasks: shards of shardSize', () => {
    expect(shardTasks(Array.from({ length: 2500 }, () => t())).map((s) => s.length)).toEqual([FANOUT_SHARD_SIZE, FANOUT_SHARD_SIZE, 500]);
    expect(
      shardTasks(
        Array.from({ length: 7 }, () => t()),
        { shardSize: 3 },
      ).map((s) => s.length),
    ).toEqual([3, 3, 1]);
  });
  test('large outputs: shards bounded by estimated history bytes', () => {
    const per = estimateTaskHistoryBytes(t(16_000));
    const shards = shardTasks(Array.from({ length: 1000 }, () => t(16_000)));
    expect(shards.length).toBeGreaterThan(1);
    for (const s of shards) expect(s.length * per).toBeLessThanOrEqual(SHARD_HISTORY_BYTES);
    expect(shards.flat()).toHaveLength(1000);
  });
  test('a task bigger than the budget alone gets a shard of its own, and one shard is returned as is', () => {
    expect(shardTasks([t(), t(3_000_000), t()]).map((s) => s.length)).toEqual([1, 1, 1]);
    expect(shardTasks([t(), t()])).toHaveLength(1);
  });
  test('the prompt counts in bytes (UTF-8)', () => {
    expect(estimateTaskHistoryBytes({ prompt: 'é'.repeat(10), maxTokens: 1 })).toBe(20 + 4 + 1500);
  });
});

describe('assertPayloadSize', () => {
  test('names the size and the limit', () => {
    expect(() => assertPayloadSize({ p: 'x'.repeat(1_600_000) }, 'the workflow input')).toThrow(/the workflow input is 1\.60 MB, over the 1\.5 MB/);
    expect(() => assertPayloadSize({ p: 'x' }, 'input')).not.toThrow();
  });
});

describe('computeStats', () => {
  test('sums durations and tokens and computes speedup and success rate', () => {
    const r = (state: 'succeeded' | 'failed', d: number) => ({ state, durationMs: d, tokens: { input: 10, output: 20 } });
    const s = computeStats([r('succeeded', 3000), r('succeeded', 3000), r('failed', 1000), r('succeeded', 3000)], 3500);
    expect(s).toMatchObject({ total: 4, succeeded: 3, failed: 1, successRate: 0.75, sumDurationMs: 10000, wallClockMs: 3500, speedup: 2.86, tokens: { input: 40, output: 80 } });
  });
});

describe('BudgetShares (one budget across shards)', () => {
  const used = (tokens: number) => [{ tokens: { input: tokens, output: 0 }, costUsd: 0 }];
  test('shards starting together split the cap by their size; later shards get what finished ones left', () => {
    const s = new BudgetShares({ maxTokens: 1000 }, [100, 100, 200]);
    expect(s.take(0).budget).toEqual({ maxTokens: 250 });
    expect(s.take(1).budget).toEqual({ maxTokens: 250 });
    s.settle(0, used(50)); // spent 50 of its 250: 200 come back
    // Left: 1000 - 50 spent - 250 held by shard 1 = 700, all for the last (and only unstarted) shard.
    expect(s.take(2).budget).toEqual({ maxTokens: 700 });
  });
  test('once the cap is spent or held, a shard does not run at all', () => {
    const s = new BudgetShares({ maxTokens: 10, inFlight: 'finish' }, [1, 1]);
    expect(s.take(0).budget).toEqual({ maxTokens: 5, inFlight: 'finish' });
    s.settle(0, used(12));
    expect(s.take(1).refusal).toMatch(/budget was reached \(12 of 10 tokens/);
    expect(new BudgetShares(undefined, [1]).take(0)).toEqual({});
  });
});
