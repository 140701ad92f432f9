/**
 * Decompose → parallel → synthesize: input schema, the prompts, and parsing of the model's
 * decomposition (with a schema, tolerant of code fences and chatter around the JSON). Pure.
 */
import { z } from 'zod';
import { formatIssues, maxConcurrentSchema, nonEmptyString, wholeNumber } from './schema';
import { callOptionsSchema, type TaskResult } from './tasks';

/**
 * A plain instruction to the model. The shape itself is asked for through a forced tool call
 * ({@link decompositionOutput}); nothing (the local LLM server included) keys on this wording.
 */
export const JSON_ONLY = 'Respond with JSON only';

/** Input of `decomposeAndSynthesize`. */
export const decomposeInputSchema = callOptionsSchema.extend({
  task: nonEmptyString(),
  subtasks: wholeNumber(1, 20).optional(),
  maxConcurrent: maxConcurrentSchema.optional(),
  failFast: z.boolean().optional(),
});
export type DecomposeInput = z.infer<typeof decomposeInputSchema>;
/** What a caller passes to `decomposeAndSynthesize` (validated inside the workflow). */
export type DecomposeParams = z.input<typeof decomposeInputSchema>;

/** A subtask as the model proposes it. */
export const subtaskSchema = z.object({ name: z.string().trim().min(1), prompt: z.string().trim().min(1) });
export type Subtask = z.infer<typeof subtaskSchema>;

const decompositionSchema = z.object({ subtasks: z.array(subtaskSchema).min(1, 'must list at least one subtask').max(50) });

/** A JSON Schema with an object at its root (what a tool's `input_schema` must be). */
export type ObjectJsonSchema = { type: 'object'; properties: Record<string, unknown>; required: string[]; additionalProperties: false };

/** The JSON Schema of a decomposition into exactly `n` subtasks: `{ subtasks: [{ name, prompt }] }`, n of them. */
export function decompositionJsonSchema(n: number): ObjectJsonSchema {
  return {
    type: 'object',
    properties: {
      subtasks: {
        type: 'array',
        minItems: n,
        maxItems: n,
        items: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'short name of the subtask' },
            prompt: { type: 'string', description: 'self-contained instructions: everything needed to do the subtask without the others' },
          },
          required: ['name', 'prompt'],
          additionalProperties: false,
        },
      },
    },
    required: ['subtasks'],
    additionalProperties: false,
  };
}

/** Name of the tool the decomposition call forces (structured output). */
export const DECOMPOSITION_TOOL = 'record_subtasks';

/**
 * The structured output of the decomposition call: the model must call {@link DECOMPOSITION_TOOL}
 * with a decomposition into `n` subtasks (the activity returns that call's input as JSON text,
 * which {@link parseDecomposition} reads like any reply).
 */
export function decompositionOutput(n: number): { name: string; description: string; schema: ObjectJsonSchema } {
  return {
    name: DECOMPOSITION_TOOL,
    description: `Records the split of the task into exactly ${n} independent subtasks, each with a short name and self-contained instructions.`,
    schema: decompositionJsonSchema(n),
  };
}

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
