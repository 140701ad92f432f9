/** The result constructors (src/core/results.ts) and the skip-propagation rule, pure. */
import { cancelled, cancelledBeforeStart, dependencySkipReason, failed, notRunForBudget, skipped, succeeded } from '../../src/core/results';
import type { TaskResult } from '../../src/core/tasks';

const task = { taskId: 'a', name: 'task a' };
const ZERO = { input: 0, output: 0 };
const dep = (taskId: string, state: TaskResult['state'], error: string | null = null): TaskResult => ({
  ...succeeded({ taskId, name: taskId }, { output: 'x', durationMs: 1, attempts: 1 }),
  state,
  error,
});

describe('result constructors', () => {
  test('every outcome, field for field', () => {
    expect(
      succeeded(task, { output: 'hi', durationMs: 12, attempts: 2, tokens: { input: 3, output: 4 }, model: 'm', stopReason: 'end_turn', truncated: false, costUsd: 0.5 }),
    ).toEqual({
      taskId: 'a',
      name: 'task a',
      state: 'succeeded',
      success: true,
      output: 'hi',
      error: null,
      errorType: null,
      durationMs: 12,
      attempts: 2,
      tokens: { input: 3, output: 4 },
      model: 'm',
      stopReason: 'end_turn',
      truncated: false,
      costUsd: 0.5,
    });
    // A tool call reports no tokens.
    expect(succeeded(task, { output: 'stats', durationMs: 5, attempts: 1 })).toEqual({
      taskId: 'a',
      name: 'task a',
      state: 'succeeded',
      success: true,
      output: 'stats',
      error: null,
      errorType: null,
      durationMs: 5,
      attempts: 1,
      tokens: ZERO,
    });
    const ended = (state: string, error: string, errorType: string, durationMs = 0, attempts = 0) => ({
      taskId: 'a',
      name: 'task a',
      state,
      success: false,
      output: null,
      error,
      errorType,
      durationMs,
      attempts,
      tokens: ZERO,
    });
    expect(failed(task, { error: 'bad', errorType: 'BadRequest', durationMs: 7, attempts: 3 })).toEqual(ended('failed', 'bad', 'BadRequest', 7, 3));
    expect(cancelled(task, 9)).toEqual(ended('cancelled', 'cancelled', 'Cancelled', 9));
    expect(cancelledBeforeStart(task)).toEqual(ended('cancelled', 'cancelled before it started', 'Cancelled'));
    expect(skipped(task, 'skipped: why')).toEqual(ended('skipped', 'skipped: why', 'Skipped'));
    expect(notRunForBudget(task, 'not run: spent')).toEqual(ended('skipped', 'not run: spent', 'BudgetExceeded'));
  });

  test('only the identity is taken from the task, and token objects are never shared', () => {
    const withExtras = { ...task, prompt: 'secret prompt', summary: 's' };
    expect(Object.keys(cancelledBeforeStart(withExtras)).sort()).toEqual([
      'attempts',
      'durationMs',
      'error',
      'errorType',
      'name',
      'output',
      'state',
      'success',
      'taskId',
      'tokens',
    ]);
    const one = skipped(task, 'x');
    one.tokens.input = 5;
    expect(skipped(task, 'x').tokens).toEqual(ZERO);
  });
});

describe('dependencySkipReason (skip propagation)', () => {
  test('all dependencies succeeded (or none): nothing to skip', () => {
    expect(dependencySkipReason([])).toBeUndefined();
    expect(dependencySkipReason([dep('a', 'succeeded'), dep('b', 'succeeded')])).toBeUndefined();
  });

  test('a failed or cancelled dependency is named with its error', () => {
    expect(dependencySkipReason([dep('a', 'failed', 'bad a')])).toBe('skipped: dependency "a" failed (bad a)');
    expect(dependencySkipReason([dep('a', 'cancelled', 'cancelled before it started')])).toBe('skipped: dependency "a" cancelled (cancelled before it started)');
    expect(dependencySkipReason([dep('a', 'failed')])).toBe('skipped: dependency "a" failed');
  });

  test('a skipped dependency passes its own reason on, so a chain names the node that failed', () => {
    const b = skipped({ taskId: 'b', name: 'b' }, dependencySkipReason([dep('a', 'failed', 'bad a')])!);
    const c = skipped({ taskId: 'c', name: 'c' }, dependencySkipReason([b])!);
    expect(dependencySkipReason([c])).toBe('skipped: dependency "a" failed (bad a)');
    expect(dependencySkipReason([{ ...dep('b', 'skipped'), error: null }])).toBe('dependency "b" was skipped');
  });

  test('the first dependency (in dependsOn order) that did not succeed decides', () => {
    expect(dependencySkipReason([dep('x', 'succeeded'), dep('b', 'cancelled', 'cancelled'), dep('a', 'failed', 'bad a')])).toBe('skipped: dependency "b" cancelled (cancelled)');
    expect(dependencySkipReason([dep('a', 'failed', 'bad a'), dep('b', 'cancelled', 'cancelled')])).toBe('skipped: dependency "a" failed (bad a)');
  });
});
