/**
 * The zod building blocks of every run input (fan-out, DAG, pipeline, intel, decompose), each with
 * one wording of its messages, so the same mistake reads the same whatever the run.
 * Pure: bundled into workflow code.
 */
import { z } from 'zod';

/** Upper bound of maxConcurrent: a run may hold at most 2,000 pending activities. */
export const MAX_CONCURRENT_LIMIT = 1000;
/** Most output tokens one call may ask for. */
export const MAX_TOKENS_LIMIT = 128_000;

/** Allowed ids of DAG nodes and pipeline tasks: they appear in placeholders, messages and workflow ids, so keep them plain. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Any string. */
export const plainString = () => z.string({ error: 'must be a string' });

/** A trimmed string with something besides whitespace in it; at most `maxLength` characters when given. */
export function nonEmptyString(maxLength?: number) {
  const s = plainString().trim().min(1, 'must not be empty');
  return maxLength === undefined ? s : s.max(maxLength, `must be at most ${maxLength} characters`);
}

/** An id of a DAG node or a pipeline task (not trimmed: an id with spaces is rejected, not changed). */
export const nodeIdSchema = plainString()
  // abort: an empty id would otherwise also be told its characters are wrong.
  .min(1, { error: 'must not be empty', abort: true })
  .regex(NODE_ID_PATTERN, 'must contain only letters, digits, "_", "." and "-"');

/** Any number (zod rejects NaN and ±Infinity). */
export const numberSchema = () => z.number({ error: 'must be a number' });

/** A number greater than 0. */
export const positiveNumber = () => numberSchema().positive('must be greater than 0');

/** A bound of wholeNumber, with how its messages name it when the bare number reads badly: `[1000, '1000 ms']`. */
export type Bound = number | readonly [value: number, label: string];

const bound = (b: Bound): readonly [number, string] => (typeof b === 'number' ? [b, String(b)] : b);

/** A whole number from `min` to `max` (both included; no upper bound when `max` is not given). */
export function wholeNumber(min: Bound, max?: Bound) {
  const [lo, loLabel] = bound(min);
  const atLeast = numberSchema().int('must be a whole number').min(lo, `must be at least ${loLabel}`);
  if (max === undefined) return atLeast;
  const [hi, hiLabel] = bound(max);
  return atLeast.max(hi, `must be at most ${hiLabel}`);
}

/** How many calls of a run may be in flight at once. */
export const maxConcurrentSchema = wholeNumber(1, MAX_CONCURRENT_LIMIT);

/** max_tokens of one call. */
export const maxTokensSchema = wholeNumber(1, MAX_TOKENS_LIMIT);

/** One of the given strings; the message lists them: `must be "a", "b" or "c"`. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const quoted = values.map((v) => `"${v}"`);
  const list = quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}` : quoted[0];
  return z.enum(values, { error: `must be ${list}` });
}

/** A list of `item`s; `noun` says what in the message: `must be a list of tasks`. */
export function listOf<T extends z.ZodType>(item: T, noun: string) {
  return z.array(item, { error: `must be a list of ${noun}` });
}

/** A list of at least one `item`. */
export function nonEmptyList<T extends z.ZodType>(item: T, noun: string) {
  return listOf(item, noun).min(1, 'must not be empty');
}

/** Formats zod issues as `tasks[2].prompt: must not be empty`. */
export function formatIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((i) => {
      const path = i.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), prefix);
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}
