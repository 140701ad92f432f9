/** Cost estimates from token usage (pure). */
import { DEFAULT_PRICES, estimateCost, priceOf } from '../../src/core/pricing';
import { computeStats } from '../../src/core/tasks';

describe('pricing', () => {
  test('exact names, dated snapshots by prefix, unknown models', () => {
    expect(priceOf('claude-sonnet-4-6', DEFAULT_PRICES)).toEqual({ input: 3, output: 15 });
    expect(priceOf('claude-haiku-4-5-20251001', DEFAULT_PRICES)).toEqual({ input: 1, output: 5 });
    expect(priceOf('gpt-whatever', DEFAULT_PRICES)).toBeUndefined();
  });
  test('cost = tokens × price per million', () => {
    expect(estimateCost('claude-sonnet-4-6', { input: 1_000_000, output: 100_000 }, DEFAULT_PRICES)).toBe(4.5);
    expect(estimateCost('claude-sonnet-4-6', { input: 38, output: 250 }, DEFAULT_PRICES)).toBe(0.003864);
    expect(estimateCost('mystery', { input: 1, output: 1 }, DEFAULT_PRICES)).toBeNull();
  });
  test('runs sum cost in total and per stage', () => {
    const r = (group: string, costUsd: number | null) => ({ state: 'succeeded' as const, durationMs: 1, tokens: { input: 1, output: 1 }, group, costUsd });
    const s = computeStats([r('research', 0.01), r('research', 0.02), r('summary', 0.005), r('summary', null)], 10);
    expect(s.costUsd).toBe(0.035);
    expect(s.costByGroup).toEqual({ research: 0.03, summary: 0.005 });
  });
});
