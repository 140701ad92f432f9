/**
 * Decompose → parallel → synthesize: input schema, the prompts, and parsing of the model's
 * decomposition (with a schema, tolerant of code fences and chatter around the JSON). Pure.
 */
import { z } from 'zod';
import { formatIssues, maxConcurrentSchema, nonEmptyString, wholeNumber } from './schema';
import { callOptionsSchema, type TaskResult } from './tasks';

/** Marker the local LLM server recognises to answer in JSON; also a plain instruction to a real model. */
export const JSON_ONLY = 'Respond with JSON only';

/** Input of `decomposeAndSynthesize`. */
export const decomposeInputSchema = callOptionsSchema.extend({
  task: nonEmptyString(),
  subtasks: wholeNumber(1, 20).optional(),
  maxConcurrent: maxConcurrentSchema.optional(),
  failFast: z.boolean().optional(),
});
export type DecomposeInput = z.infer<typeof decomposeInputSchema>;

/** A subtask as the model proposes it. */
export const subtaskSchema = z.object({ name: z.string().trim().min(1), prompt: z.string().trim().min(1) });
export type Subtask = z.infer<typeof subtaskSchema>;

const decompositionSchema = z.object({ subtasks: z.array(subtaskSchema).min(1, 'must list at least one subtask').max(50) });

/** System prompt of the decomposition call. */
export const DECOMPOSE_SYSTEM = `You split a task into independent subtasks that can be worked on in parallel. ${JSON_ONLY}: {"subtasks":[{"name":"short name","prompt":"self-contained instructions"}]}`;

/** The decomposition prompt. */
export function decomposePrompt(task: string, n: number): string {
  return `Split the following task into exactly ${n} subtasks that can be done independently and in parallel.\nTask: ${task}`;
}

/** The corrective prompt after an unusable reply. */
export function correctivePrompt(task: string, n: number, previous: string, problem: string): string {
  return `Your previous reply could not be used (${problem}). Reply again with only the JSON object, no prose, no code fences.\nPrevious reply: ${previous.slice(0, 2000)}\n\nSplit the following task into exactly ${n} subtasks that can be done independently and in parallel.\nTask: ${task}`;
}

/** Parses a decomposition reply; returns the subtasks or the problem in words. */
export function parseDecomposition(text: string): { ok: true; subtasks: Subtask[] } | { ok: false; problem: string } {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return { ok: false, problem: 'no JSON object found' };
  let json: unknown;
  try {
    json = JSON.parse(text.slice(start, end + 1));
  } catch (err) {
    return { ok: false, problem: `invalid JSON: ${(err as Error).message}` };
  }
  const r = decompositionSchema.safeParse(json);
  if (!r.success) return { ok: false, problem: `unexpected shape: ${formatIssues(r.error)}` };
  // Duplicate names would make results ambiguous; number them.
  const seen = new Map<string, number>();
  const subtasks = r.data.subtasks.map((s) => {
    const k = (seen.get(s.name) ?? 0) + 1;
    seen.set(s.name, k);
    return k > 1 ? { ...s, name: `${s.name} (${k})` } : s;
  });
  return { ok: true, subtasks };
}

/** System prompt of the synthesis call. */
export const SYNTHESIZE_SYSTEM = 'You combine the results of subtasks into one coherent answer to the original task. Say plainly which parts are missing.';

/** The synthesis prompt: every subtask with its result; failed ones are named, not hidden. */
export function synthesisPrompt(task: string, subtasks: Subtask[], results: TaskResult[]): string {
  const parts = subtasks.map((s, i) => {
    const r = results[i];
    const body = r?.success ? r.output : `FAILED (${r?.errorType ?? 'unknown'}): ${r?.error ?? 'no result'}`;
    return `## Subtask ${i + 1}: ${s.name}\n${body}`;
  });
  const failed = subtasks.filter((_, i) => !results[i]?.success).map((s) => s.name);
  const note = failed.length ? `\n\nThese subtasks failed and have no result: ${failed.join(', ')}.` : '';
  return `Original task: ${task}\n\n${parts.join('\n\n')}${note}\n\nWrite the combined answer.`;
}
