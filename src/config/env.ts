/**
 * Building blocks of the env schemas (one per consumer, see index.ts): how a variable's text
 * becomes a value, and the error every configuration problem is thrown as.
 */
import path from 'node:path';
import { z } from 'zod';

/** Thrown for invalid configuration; its message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A whole number of at least `min`; messages name the variable. */
export const intFrom = (name: string, min: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min, `${name} must be at least ${min}`);

/** A comma-separated list (items trimmed, empty ones dropped), `fallback` when unset. */
export const listFrom = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    );

/** `1`/`true` or `0`/`false`, as a boolean. */
export const flagFrom = (fallback: '0' | '1') =>
  z
    .enum(['0', '1', 'true', 'false'])
    .default(fallback)
    .transform((v) => v === '1' || v === 'true');

/** A path, absolute (resolved against the working directory), `fallback` when unset. */
export const dirFrom = (fallback: string) =>
  z
    .string()
    .trim()
    .min(1)
    .default(fallback)
    .transform((p) => path.resolve(p));

/** Parses JSON text of a variable; a syntax error is a ConfigError naming it. */
export function jsonOf(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${name} is not valid JSON: ${(err as Error).message}`);
  }
}
