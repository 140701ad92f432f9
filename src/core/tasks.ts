/**
 * Shapes and validation of fan-out inputs and results, plus run statistics.
 * Pure and deterministic: used inside workflows (validation before any call) and by the client
 * (the same validation before starting a run, so users see errors without a run).
 */
import { z } from 'zod';
import { agentOptionsSchema } from './agent-options';
import { formatIssues, maxConcurrentSchema, maxTokensSchema, nonEmptyList, nonEmptyString, oneOf, plainString, positiveNumber, wholeNumber } from './schema';

/** Tasks per workflow unless a fan-out sets shardSize; bigger runs are split into child workflows. */
export const FANOUT_SHARD_SIZE = 1000;
/**
 * Estimated history bytes one workflow may hold before a fan-out shards by size: Temporal warns at
 * 10 MB and terminates a run at 50 MB, so a shard stays well under the warning.
 */
export const SHARD_HISTORY_BYTES = 8_000_000;
/** Output bytes assumed per token when estimating a task's history bytes (English is ~4 chars/token). */
const BYTES_PER_OUTPUT_TOKEN = 4;
/** History bytes per task besides its prompt and output: event envelopes, ids, summary, result fields. */
const TASK_OVERHEAD_BYTES = 1_500;
/** max_tokens assumed for a task that sets none (the worker's default, LLM_MAX_TOKENS, is not known to the workflow). */
export const ASSUMED_MAX_TOKENS = 1024;
/** Temporal rejects payloads over 2 MB; stay clear of it with room for the envelope. */
export const MAX_INPUT_BYTES = 1_500_000;

/** One LLM task of a fan-out. */
export const taskSpecSchema = z.object({
  id: nonEmptyString().optional(),
  name: nonEmptyString(),
  prompt: nonEmptyString(),
  system: plainString().optional(),
  model: nonEmptyString().optional(),
  maxTokens: maxTokensSchema.optional(),
  /** Run the task as an agent with these tools (a child workflow: see src/workflows/agent.ts). */
  agent: agentOptionsSchema.optional(),
});
export type TaskSpec = z.infer<typeof taskSpecSchema>;

/** Options shared by every run that makes LLM calls. */
export const callOptionsSchema = z.object({
  model: nonEmptyString().optional(),
  maxTokens: maxTokensSchema.optional(),
  /** Start-to-close timeout of one LLM attempt. */
  timeoutMs: wholeNumber([100, '100 ms'], [3_600_000, '1 hour']).optional(),
  /** Attempts per call, first included (Temporal retries). */
  maxAttempts: wholeNumber(1, 100).optional(),
  /**
   * Who the run is for: its LLM calls share the task queue fairly with other tenants' (the
   * fairness key; default: the run itself, so a small run is not stuck behind a big one).
   */
  tenant: nonEmptyString(64).optional(),
  /** How long one call may keep being throttled (429/529) before it fails; throttling uses no attempts. */
  throttleDeadlineMs: wholeNumber([1000, '1000 ms'], [7 * 86_400_000, '7 days']).optional(),
  /** A spending cap for the run: once reached, no new call starts. */
  budget: z
    .object({
      maxTokens: wholeNumber(1).optional(),
      maxCostUsd: positiveNumber().optional(),
      /** What happens to calls in flight when the cap is reached: let them finish (default) or cancel them. */
      inFlight: oneOf(['finish', 'cancel']).optional(),
    })
    .refine((b) => b.maxTokens !== undefined || b.maxCostUsd !== undefined, 'needs maxTokens or maxCostUsd')
    .optional(),
  /** Reuse results of identical calls (same model, system, prompt, max_tokens) made within ttlSeconds, across runs. */
  cache: z.object({ ttlSeconds: wholeNumber(1, [365 * 86400, '365 days']) }).optional(),
  /**
   * Where the run's LLM calls and tool calls are scheduled: task queues of dedicated LLM and tool
   * workers. Default: the run's own task queue (one worker with AgentsPlugin runs everything).
   */
  llmTaskQueue: nonEmptyString(200).optional(),
  toolTaskQueue: nonEmptyString(200).optional(),
  /**
   * How LLM calls are run: 'activity' (default) = activities through the server's task queue;
   * 'local' = local activities on the worker running the workflow (see README Performance).
   */
  llmDispatch: oneOf(['activity', 'local']).optional(),
  /**
   * Stream each LLM call's text to the run while it arrives (`streamChunk` signals, read with the
   * `stream` query; see src/client/stream.ts). Off by default: nothing is signalled or changed.
   */
  stream: z.boolean().optional(),
  /** Internal: the workflow whose stream channel a child run's calls publish to (its root run). */
  streamTo: nonEmptyString(200).optional(),
});
export type CallOptions = z.infer<typeof callOptionsSchema>;
/** A run's spending cap. */
export type BudgetSpec = NonNullable<CallOptions['budget']>;

/** Input of the `fanOut` workflow. */
export const fanOutInputSchema = callOptionsSchema.extend({
  tasks: nonEmptyList(taskSpecSchema, 'tasks'),
  maxConcurrent: maxConcurrentSchema.optional(),
  failFast: z.boolean().optional(),
  /** Most tasks one workflow runs; a bigger run is split into child workflows (default FANOUT_SHARD_SIZE). */
  shardSize: wholeNumber(1, FANOUT_SHARD_SIZE).optional(),
});
export type FanOutInput = z.infer<typeof fanOutInputSchema>;
/** What a caller passes to `fanOut` (validated inside the workflow). */
export type FanOutParams = z.input<typeof fanOutInputSchema>;

/** Thrown (and turned into a non-retryable workflow failure) when an input is invalid. */
export class InvalidInputError extends Error {
  override name = 'InvalidInput';
}

/** Parses with a schema or throws InvalidInputError naming every problem. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new InvalidInputError(`Invalid ${what}: ${formatIssues(r.error)}`);
  return r.data;
}

/** Names the values that occur more than once. */
export function duplicates(values: string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const v of values) (seen.has(v) ? dup : seen).add(v);
  return [...dup];
}

/** A task with its final id (given, or its 1-based position). */
export interface ResolvedTask extends TaskSpec {
  taskId: string;
}

/**
 * Validates a fan-out input; returns tasks with ids. Throws InvalidInputError naming every problem
 * at once: schema problems and duplicate names and ids, even when both kinds occur.
 */
export function validateFanOutInput(input: unknown): { input: FanOutInput; tasks: ResolvedTask[] } {
  const r = fanOutInputSchema.safeParse(input);
  const problems = r.success ? [] : [formatIssues(r.error)];
  // Duplicates are judged on the raw list, so they are reported beside the schema's problems.
  const raw = (input as { tasks?: unknown } | null)?.tasks;
  const items = Array.isArray(raw) ? raw.map((t) => (t && typeof t === 'object' ? (t as Record<string, unknown>) : {})) : [];
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v : undefined);
  const dupNames = duplicates(items.map((t) => str(t.name)).filter((v): v is string => v !== undefined));
  if (dupNames.length) problems.push(`duplicate task names: ${dupNames.join(', ')}`);
  const dupIds = duplicates(items.map((t, i) => str(t.id) ?? `task-${i + 1}`));
  if (dupIds.length) problems.push(`duplicate task ids: ${dupIds.join(', ')}`);
  if (!r.success || problems.length) throw new InvalidInputError(`Invalid fan-out input: ${problems.join('; ')}`);
  const tasks = r.data.tasks.map((t, i) => ({ ...t, taskId: t.id ?? `task-${i + 1}` }));
  return { input: r.data, tasks };
}

/**
 * History bytes a task adds to the workflow that runs it, estimated from its input: the prompt and
 * system (in the activity's scheduled event) and the longest output max_tokens allows (in its
 * completed event), plus event overhead. Deterministic, so a replay shards the same way.
 */
export function estimateTaskHistoryBytes(task: Pick<TaskSpec, 'prompt' | 'system' | 'maxTokens'>, defaultMaxTokens = ASSUMED_MAX_TOKENS): number {
  const maxTokens = task.maxTokens ?? defaultMaxTokens;
  return utf8Length(task.prompt) + utf8Length(task.system ?? '') + maxTokens * BYTES_PER_OUTPUT_TOKEN + TASK_OVERHEAD_BYTES;
}

/**
 * Splits tasks into consecutive shards of at most `shardSize` tasks and at most `maxBytes`
 * estimated history bytes each (a task bigger than that alone gets a shard of its own).
 */
export function shardTasks<T extends Pick<TaskSpec, 'prompt' | 'system' | 'maxTokens'>>(
  tasks: T[],
  opts: { shardSize?: number; maxBytes?: number; defaultMaxTokens?: number } = {},
): T[][] {
  const shardSize = opts.shardSize ?? FANOUT_SHARD_SIZE;
  const maxBytes = opts.maxBytes ?? SHARD_HISTORY_BYTES;
  const shards: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const t of tasks) {
    const b = estimateTaskHistoryBytes(t, opts.defaultMaxTokens);
    if (current.length > 0 && (current.length >= shardSize || bytes + b > maxBytes)) {
      shards.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += b;
  }
  if (current.length) shards.push(current);
  return shards;
}

/** Throws when a JSON-serialisable value would break Temporal's payload limits. */
export function assertPayloadSize(value: unknown, what: string, limit = MAX_INPUT_BYTES): void {
  const bytes = utf8Length(JSON.stringify(value) ?? '');
  if (bytes > limit) {
    throw new InvalidInputError(
      `${what} is ${(bytes / 1e6).toFixed(2)} MB, over the ${(limit / 1e6).toFixed(1)} MB a Temporal payload can safely hold (hard limit 2 MB): split the input or pass large documents by reference`,
    );
  }
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Token usage of one call or a whole run. */
export interface Tokens {
  input: number;
  output: number;
}

/** Final state of one task. */
export type TaskState = 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** Outcome of one task of a run; keyed by taskId, listed in input order. */
export interface TaskResult {
  taskId: string;
  name: string;
  state: TaskState;
  success: boolean;
  output: string | null;
  error: string | null;
  /** Failure type (e.g. BadRequest, RateLimited, Timeout) when failed. */
  errorType?: string | null;
  /** LLM time of the successful attempt, or time from first schedule to failure. */
  durationMs: number;
  attempts: number;
  tokens: Tokens;
  model?: string;
  stopReason?: string | null;
  /** True when the model stopped at max_tokens: the output is cut short. */
  truncated?: boolean;
  /** Stage or role of the call in a multi-step run (e.g. `research`, `synthesize`). */
  group?: string;
  /** Estimated USD cost of the successful call (null: the model has no price). */
  costUsd?: number | null;
  /** Answered from the response cache: nothing was paid; tokensSaved says what it would have cost. */
  cached?: boolean;
  tokensSaved?: Tokens;
  /** Throttled answers (429/529) the successful attempt waited out. */
  throttles?: number;
  /** The task ran as an agent (a child workflow): how its loop went. */
  agent?: AgentRunSummary;
}

/** How an agent task's loop went (the whole record is the child workflow's result). */
export interface AgentRunSummary {
  workflowId: string;
  stoppedBy: string;
  turns: number;
  /** Tool calls made, by tool name. */
  toolCalls: Record<string, number>;
  toolErrors: number;
}

/** Summary numbers of a run. */
export interface RunStats {
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
  successRate: number;
  sumDurationMs: number;
  wallClockMs: number;
  /** sumDurationMs / wallClockMs: how much parallelism bought. */
  speedup: number;
  tokens: Tokens;
  /** Estimated USD cost of all calls with a known price. */
  costUsd: number;
  /** Estimated cost per stage/group, when results have groups. */
  costByGroup?: Record<string, number>;
  /** Calls answered from the response cache, and the tokens they saved. */
  cacheHits: number;
  tokensSaved: Tokens;
}

/** Statistics of a DAG run (runDag, competitiveIntel): run stats plus the critical path over actual durations. */
export interface DagStats extends RunStats {
  criticalPath: string[];
  /** Length of the critical path: no schedule could finish sooner. */
  idealMakespanMs: number;
}

/** Adds token counts. */
export function addTokens(a: Tokens, b: Tokens): Tokens {
  return { input: a.input + b.input, output: a.output + b.output };
}

/** Computes run statistics from task results and the run's wall clock. */
export function computeStats(results: Pick<TaskResult, 'state' | 'durationMs' | 'tokens' | 'costUsd' | 'group' | 'cached' | 'tokensSaved'>[], wallClockMs: number): RunStats {
  const count = (s: TaskState) => results.filter((r) => r.state === s).length;
  const sumDurationMs = results.reduce((s, r) => s + r.durationMs, 0);
  const total = results.length;
  const succeeded = count('succeeded');
  return {
    total,
    succeeded,
    failed: count('failed'),
    skipped: count('skipped'),
    cancelled: count('cancelled'),
    successRate: total ? round(succeeded / total, 4) : 0,
    sumDurationMs,
    wallClockMs,
    speedup: wallClockMs > 0 ? round(sumDurationMs / wallClockMs, 2) : 0,
    tokens: results.reduce<Tokens>((t, r) => addTokens(t, r.tokens), { input: 0, output: 0 }),
    costUsd: round(
      results.reduce((c, r) => c + (r.costUsd ?? 0), 0),
      6,
    ),
    cacheHits: results.filter((r) => r.cached).length,
    tokensSaved: results.reduce<Tokens>((t, r) => (r.tokensSaved ? addTokens(t, r.tokensSaved) : t), { input: 0, output: 0 }),
    ...(results.some((r) => r.group) ? { costByGroup: costByGroup(results) } : {}),
  };
}

function costByGroup(results: Pick<TaskResult, 'costUsd' | 'group'>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const g = r.group ?? 'other';
    out[g] = round((out[g] ?? 0) + (r.costUsd ?? 0), 6);
  }
  return out;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
