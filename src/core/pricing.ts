/**
 * Estimated cost of LLM calls from token usage. The table is an estimate in USD per million
 * tokens (list prices at the time of writing); override or extend it with LLM_PRICES. Pure.
 */
import { z } from 'zod';
import type { Tokens } from './tasks';

/** USD per million input / output tokens. */
export interface Price {
  input: number;
  output: number;
}

/** Default price table; a model not listed (and not matched by prefix) has no cost estimate. */
export const DEFAULT_PRICES: Record<string, Price> = {
  'claude-opus-4-5': { input: 5, output: 25 },
  'claude-opus-4-6': { input: 5, output: 25 },
  'claude-opus-4-7': { input: 5, output: 25 },
  'claude-opus-4-1': { input: 15, output: 75 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4-6': { input: 3, output: 15 },
  'claude-sonnet-4-5': { input: 3, output: 15 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
};

/** Schema of LLM_PRICES: `{"model": {"input": 3, "output": 15}}`. */
export const pricesSchema = z.record(z.string(), z.object({ input: z.number().min(0), output: z.number().min(0) }));

/** The price of a model: exact name first, then the longest listed prefix (dated snapshots). */
export function priceOf(model: string, table: Record<string, Price>): Price | undefined {
  if (table[model]) return table[model];
  const prefix = Object.keys(table)
    .filter((k) => model.startsWith(`${k}-`))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? table[prefix] : undefined;
}

/** Estimated USD cost of one call, or null when the model has no price. */
export function estimateCost(model: string, tokens: Tokens, table: Record<string, Price>): number | null {
  const p = priceOf(model, table);
  if (!p) return null;
  return Math.round(((tokens.input * p.input + tokens.output * p.output) / 1e6) * 1e6) / 1e6;
}
