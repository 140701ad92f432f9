/** Validation and statistics of fan-out runs (pure). */
import { InvalidInputError, assertPayloadSize, computeStats, validateFanOutInput } from '../../src/core/tasks';

describe('validateFanOutInput', () => {
  test('accepts a valid list and assigns ids by position', () => {
    const { tasks } = validateFanOutInput({ tasks: [{ name: 'a', prompt: 'p' }, { id: 'x', name: 'b', prompt: 'q' }] });
    expect(tasks.map((t) => t.taskId)).toEqual(['task-1', 'x']);
  });
  test.each([
    [{ tasks: [] }, 'tasks: must not be empty'],
    [{}, 'tasks: must be a list of tasks'],
    [{ tasks: [{ name: 'a' }] }, 'tasks[0].prompt'],
    [{ tasks: [{ name: 'a', prompt: '  ' }] }, 'tasks[0].prompt: must not be empty'],
    [{ tasks: [{ name: 'a', prompt: 'p' }], maxConcurrent: 0 }, 'maxConcurrent: must be at least 1'],
    [{ tasks: [{ name: 'a', prompt: 'p' }], maxConcurrent: 1.5 }, 'maxConcurrent: must be a whole number'],
    [{ tasks: [{ name: 'a', prompt: 'p' }, { name: 'a', prompt: 'q' }] }, 'duplicate task names: a'],
    [{ tasks: [{ id: 'k', name: 'a', prompt: 'p' }, { id: 'k', name: 'b', prompt: 'q' }] }, 'duplicate task ids: k'],
  ])('rejects %j with "%s"', (input, message) => {
    expect(() => validateFanOutInput(input)).toThrow(InvalidInputError);
    expect(() => validateFanOutInput(input)).toThrow(message);
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
