/**
 * The LLM activity: one Messages API call through the real Anthropic SDK.
 * It heartbeats while waiting so a dead worker's call is retried within the heartbeat timeout,
 * passes the activity's cancellation signal to the request so a cancelled run stops paying,
 * and classifies every failure once (see ../llm/errors).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure, WorkflowNotFoundError } from '@temporalio/common';
import { estimateCost, type Price } from '../core/pricing';
import type { Tokens } from '../core/tasks';
import type { LlmMetrics } from '../metrics';
import { cacheKey, type CachedResponse, type ResponseCache } from '../llm/cache';
import { classifyLlmError, toActivityFailure } from '../llm/errors';
import { estimateInputTokens, type Admission } from '../llm/admission';
import { hedgedRace, type LatencyTracker } from '../llm/hedging';
import type { AnswerJournal, JournalKey } from '../llm/journal';
import type { FlowController, FlowSlot } from '../llm/flow';
import { DEFAULT_THROTTLE_DEADLINE_MS, DEFAULT_THROTTLE_WAIT_MS, parseRateLimitHeaders, type RateLimitHeaders } from '../core/flow';
import { STREAM_MAX_CHUNK_CHARS, type StreamChunk } from '../core/stream';
import { streamChunkSignal } from '../protocol';

/** A JSON Schema whose root is an object: the shape of a structured output (a tool's `input_schema`). */
export type JsonObjectSchema = { type: 'object'; properties?: Record<string, unknown>; required?: string[]; [k: string]: unknown };

/**
 * Structured output: the call forces the model to call one tool (`tools: [{ name, description,
 * input_schema: schema }]`, `tool_choice: { type: 'tool', name }`), the API's way of getting JSON
 * of a given shape; the result's `text` is that call's input as JSON text.
 */
export interface StructuredOutput {
  /** The tool's name (`^[a-zA-Z0-9_-]{1,64}$`). */
  name: string;
  /** What the tool records, for the model. */
  description: string;
  schema: JsonObjectSchema;
}

/** One LLM call. */
export interface LlmCallInput {
  prompt: string;
  system?: string;
  model?: string;
  maxTokens?: number;
  /** Ask for JSON of this shape through a forced tool call (see {@link StructuredOutput}). */
  output?: StructuredOutput;
  /** Reuse an identical call's response stored within ttlSeconds. */
  cache?: { ttlSeconds: number };
  /**
   * How long a call may keep being throttled (429, 529), from its first schedule, before it fails
   * with `ThrottledTooLong` (default LLM_THROTTLE_DEADLINE_MS, 10 min). Throttled requests wait
   * and go again within the same attempt: they never use up the attempts meant for real errors.
   */
  throttleDeadlineMs?: number;
  /** How long the HTTP request may take from when it is sent (waiting for flow control excluded). */
  requestTimeoutMs?: number;
  /**
   * Stream the reply (`messages.stream`) and publish its text, batched, as `streamChunk` signals
   * to this workflow under this call id while it arrives. Absent: the plain `messages.create` path.
   */
  stream?: StreamTarget;
  /**
   * Set by workflows for calls they run as local activities: when the run started (epoch ms). A
   * local activity re-run after a crash starts at attempt 1, so every execution looks in the
   * answer journal; no earlier execution of this call can have answered before its run started,
   * so the journal looks no further back than that.
   */
  journalSinceMs?: number;
}

/** Where a streamed call publishes its text. */
export interface StreamTarget {
  /** The workflow whose stream channel receives the chunks (the run's root). */
  workflowId: string;
  /** The id the chunks carry (the task's id). */
  callId: string;
}

/** What one LLM call returns. */
export interface LlmCallResult {
  /** The reply's text; with `output`, the forced tool call's input as JSON text. */
  text: string;
  model: string;
  stopReason: string | null;
  tokens: Tokens;
  /** Wall time of the successful HTTP request. */
  durationMs: number;
  /** Which attempt succeeded (1 = first). */
  attempt: number;
  /** Estimated USD cost from the price table; null when the model has no price. */
  costUsd: number | null;
  /** Answered from the response cache (or shared with an identical call in flight): nothing was paid. */
  cached: boolean;
  tokensSaved?: Tokens;
  costSavedUsd?: number | null;
  /** The answer an earlier attempt received before its worker died: returned without a new request. */
  recovered?: boolean;
  /** Throttled answers (429, 529) this attempt waited out before its answer. */
  throttles?: number;
}

/** What the LLM activities need. */
export interface LlmDeps {
  anthropic: Anthropic;
  defaults: { model: string; maxTokens: number };
  /** How often to heartbeat while waiting on the model. */
  heartbeatIntervalMs?: number;
  /**
   * No liveness heartbeat before this long into an attempt (0 or absent: one at once, then every
   * heartbeatIntervalMs). The heartbeat carrying the answer is sent whenever the answer arrives.
   */
  firstHeartbeatDelayMs?: number;
  /** USD per million tokens, per model. */
  prices?: Record<string, Price>;
  metrics?: LlmMetrics;
  /** Log prompt previews (debug only: prompts may hold user data). */
  logPrompts?: boolean;
  /** Response cache for calls that opt in. */
  cache?: ResponseCache;
  /** Admission control shared by all workers (token and request budgets, adaptive concurrency). */
  admission?: Admission;
  /** Hedge calls slower than the model's recent p95 (off when absent). */
  hedging?: LatencyTracker;
  /** Answers kept for a retry after a crash, so a finished request is never paid for twice. */
  journal?: AnswerJournal;
  /** This process's flow control (adaptive concurrency, learned token buckets), on by default. */
  flow?: FlowController;
  /** Default throttle deadline of a call (see LlmCallInput.throttleDeadlineMs). */
  throttleDeadlineMs?: number;
  /** Streamed calls publish their text at least this often (default {@link STREAM_FLUSH_MS}). */
  streamFlushMs?: number;
  /**
   * TEST ONLY: after the answer is journaled, wait this long before completing, so a test can kill
   * the worker between the provider's answer and the activity's completion. Never set in production.
   */
  testOnlyPauseAfterAnswerMs?: number;
}

/** What the activity heartbeats once it has the provider's answer; a retry on any machine reads it. */
interface AnswerHeartbeat {
  answer: CachedResponse;
}

/** What a streamed call heartbeats while its reply arrives. */
export interface StreamProgress {
  progress: { chars: number; outputTokens?: number };
}

/** A streamed call publishes what it has at least this often… */
export const STREAM_FLUSH_MS = 150;
/** …or as soon as this much text is waiting. */
export const STREAM_FLUSH_CHARS = 2_048;
/**
 * After this many chunks of one attempt, both the interval and the size grow with the count (×
 * chunks / this), so a long reply costs about 4·√(seconds / 0.15 s) signals, not one per 150 ms:
 * every signal adds about four events to the run's history.
 */
export const STREAM_BACKOFF_AFTER = 8;
/** The last chunks may hold the activity's completion this long at most (then they are left to finish on their own). */
const STREAM_FINAL_WAIT_MS = 5_000;

/**
 * Publishes one attempt's text as it arrives: deltas are batched (every `flushMs`, or at
 * `flushChars`, both growing after {@link STREAM_BACKOFF_AFTER} chunks) and sent one chunk at a
 * time, in order, through `send`. A failed send is logged at
 * debug and dropped (streaming never fails a call); once the workflow is gone nothing more is sent.
 * With `live: false` (structured output: the answer is the tool input as JSON, not the deltas)
 * only `end` publishes, the whole answer at once.
 */
export class StreamPublisher {
  private buffer = '';
  /** Everything taken in (to publish only the rest of the answer at the end). */
  private taken = '';
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private state: 'open' | 'ended' | 'gone' = 'open';
  /** Output tokens reported so far by the stream (usage of message_start / message_delta). */
  outputTokens: number | undefined;

  constructor(
    private readonly send: (chunk: StreamChunk) => Promise<void>,
    private readonly callId: string,
    private readonly attempt: number,
    private readonly o: { flushMs?: number; flushChars?: number; live?: boolean } = {},
  ) {}

  /** Characters of text received so far. */
  get chars(): number {
    return this.taken.length;
  }

  /** Text was taken in (and published or about to be): a new request in this attempt would repeat it. */
  get started(): boolean {
    return this.taken.length > 0;
  }

  /** What the activity heartbeats while streaming. */
  progress(): StreamProgress | undefined {
    return this.taken.length > 0 || this.outputTokens !== undefined
      ? { progress: { chars: this.taken.length, ...(this.outputTokens !== undefined ? { outputTokens: this.outputTokens } : {}) } }
      : undefined;
  }

  /** A text delta of the reply. */
  text(delta: string): void {
    if (this.state !== 'open' || !delta || this.o.live === false) return;
    this.take(delta);
  }

  /**
   * The answer is complete: publishes what of `answer` was not published yet (all of it for a
   * cache or journal hit, or a structured output) with `done`, and waits a few seconds at most
   * for the chunks to be sent.
   */
  async end(answer: string): Promise<void> {
    if (this.state !== 'open') return;
    if (answer.startsWith(this.taken)) this.take(answer.slice(this.taken.length), false);
    else log.debug('streamed text differs from the answer', { callId: this.callId, streamed: this.taken.length, answer: answer.length });
    this.flush(true);
    this.state = 'ended';
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.chain, new Promise<void>((r) => (timer = setTimeout(r, STREAM_FINAL_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** The attempt failed: what is waiting is dropped (the retry's first chunk resets the call's text). */
  abandon(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    clearTimeout(this.timer);
    this.timer = undefined;
    this.buffer = '';
  }

  private take(text: string, schedule = true): void {
    if (!text) return;
    this.buffer += text;
    this.taken += text;
    if (!schedule) return;
    const backoff = Math.max(1, this.seq / STREAM_BACKOFF_AFTER);
    if (this.buffer.length >= (this.o.flushChars ?? STREAM_FLUSH_CHARS) * backoff) this.flush(false);
    else this.timer ??= setTimeout(() => this.flush(false), (this.o.flushMs ?? STREAM_FLUSH_MS) * backoff);
  }

  /** Queues a send of what is waiting (taken when the send's turn comes, so queued flushes coalesce). */
  private flush(done: boolean): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.chain = this.chain.then(async () => {
      if (this.state === 'gone' || (!done && (this.state !== 'open' || !this.buffer))) return;
      const text = this.buffer;
      this.buffer = '';
      const pieces: string[] = [];
      for (let i = 0; i < text.length; i += STREAM_MAX_CHUNK_CHARS) pieces.push(text.slice(i, i + STREAM_MAX_CHUNK_CHARS));
      if (pieces.length === 0) pieces.push('');
      for (const [i, piece] of pieces.entries()) {
        const last = i === pieces.length - 1;
        const chunk: StreamChunk = { callId: this.callId, attempt: this.attempt, seq: this.seq++, text: piece, ...(done && last ? { done: true } : {}) };
        try {
          await this.send(chunk);
        } catch (err) {
          log.debug('stream chunk not delivered (dropped)', { callId: this.callId, seq: chunk.seq, error: err instanceof Error ? err.message : String(err) });
          if (err instanceof WorkflowNotFoundError) {
            this.state = 'gone';
            return;
          }
        }
      }
    });
  }
}

/** A wait that would end this close to the attempt's start-to-close deadline ends the attempt instead. */
const ATTEMPT_MARGIN_MS = 2_000;

/**
 * `parent`, or aborted after `ms` (with a TimeoutError reason), whichever comes first; `clear`
 * stops the timer, so a finished call leaves no timer behind (AbortSignal.timeout's cannot be
 * cleared and would hold every call's signal for the whole timeout).
 */
function withTimeout(parent: AbortSignal, ms: number): { signal: AbortSignal; timedOut: () => boolean; clear: () => void } {
  const c = new AbortController();
  let fired = false;
  const onAbort = () => c.abort(parent.reason);
  if (parent.aborted) c.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  const t = setTimeout(
    () => {
      fired = true;
      c.abort(new DOMException('The operation timed out.', 'TimeoutError'));
    },
    Math.max(0, ms),
  );
  return {
    signal: c.signal,
    timedOut: () => fired,
    clear: () => {
      clearTimeout(t);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

/** The rate-limit headers of an SDK error, if it carries any. */
function headersOfError(err: unknown): RateLimitHeaders | undefined {
  const h = (err as { headers?: unknown } | null)?.headers;
  if (!h || typeof (h as Headers).get !== 'function') return undefined;
  return parseRateLimitHeaders((n) => (h as Headers).get(n));
}

/** The request body of a call (without the model's defaults applied elsewhere). */
export function messageParams(input: LlmCallInput, model: string, maxTokens: number): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model,
    max_tokens: maxTokens,
    ...(input.system ? { system: input.system } : {}),
    messages: [{ role: 'user', content: input.prompt }],
    ...(input.output
      ? {
          tools: [{ name: input.output.name, description: input.output.description, input_schema: input.output.schema }],
          tool_choice: { type: 'tool' as const, name: input.output.name },
        }
      : {}),
  };
}

/**
 * The text of a reply: with `output`, the input of its call to that tool as JSON text; otherwise
 * (or when the reply holds no such call) its text blocks joined.
 */
export function replyText(msg: Pick<Anthropic.Message, 'content'>, output?: Pick<StructuredOutput, 'name'>): string {
  if (output) {
    const call = msg.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use' && b.name === output.name);
    if (call) return JSON.stringify(call.input);
  }
  return msg.content
    .filter((b): b is Anthropic.TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('');
}

/** Answers larger than this stay out of heartbeat details (the journal still has them). */
const MAX_HEARTBEAT_ANSWER_CHARS = 200_000;

/** The answer an earlier attempt heartbeated, if the heartbeat reached the server. */
function answerFromHeartbeat(details: unknown): CachedResponse | undefined {
  const a = (details as Partial<AnswerHeartbeat> | undefined)?.answer;
  return a && typeof a.text === 'string' && typeof a.model === 'string' && a.tokens && typeof a.tokens.input === 'number' ? a : undefined;
}

/** What one request of {@link createLlmActivities}'s shared call path needs. */
interface CallSpec {
  model: string;
  maxTokens: number;
  /** The request body. */
  body: Anthropic.MessageCreateParamsNonStreaming;
  /** Text the admission and flow control estimate input tokens from. */
  prompt: string;
  system?: string;
  throttleDeadlineMs?: number;
  requestTimeoutMs?: number;
  /** No earlier execution of this call answered before this (see LlmCallInput.journalSinceMs). */
  journalSinceMs?: number;
  /** What of the reply is kept (journaled, heartbeated, returned) as the answer's `text`. */
  answerText: (msg: Anthropic.Message) => string;
  /** Stream the reply and publish its text here (no hedging: two racing streams would mix). */
  publish?: StreamPublisher;
}

/** What the shared call path hands the activity deciding how to answer. */
interface CallContext {
  attempt: number;
  started: number;
  /** Makes the request (kept in heartbeat details and the journal before it resolves). */
  request: () => Promise<CachedResponse>;
  /** The answer an earlier attempt received, if any. */
  recovered: () => Promise<CachedResponse | undefined>;
  /** Throttled answers waited out so far. */
  throttles: () => number;
  signal: AbortSignal;
}

/** A content block of an agent's conversation (plain JSON: what the workflow keeps in its history). */
export type AgentTextBlock = { type: 'text'; text: string };
export type AgentToolUseBlock = { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };
export type AgentToolResultBlock = { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean };
export type AgentBlock = AgentTextBlock | AgentToolUseBlock | AgentToolResultBlock;
/** One message of an agent's conversation. */
export interface AgentMessage {
  role: 'user' | 'assistant';
  content: string | AgentBlock[];
}
/** A tool offered to the model. */
export interface AgentToolDefinition {
  name: string;
  description: string;
  input_schema: JsonObjectSchema;
}

/** One model turn of an agent: the conversation so far and the tools it may call. */
export interface AgentTurnInput {
  model?: string;
  maxTokens?: number;
  system?: string;
  messages: AgentMessage[];
  tools: AgentToolDefinition[];
  requestTimeoutMs?: number;
  throttleDeadlineMs?: number;
  /** Stream the turn's text to this workflow's stream channel while it arrives (off when absent). */
  stream?: StreamTarget;
}

/** What one model turn returns. */
export interface AgentTurnResult {
  /** The reply's text and tool_use blocks (other kinds dropped). */
  content: (AgentTextBlock | AgentToolUseBlock)[];
  stopReason: string | null;
  tokens: Tokens;
  model: string;
  durationMs: number;
  attempt: number;
  /** The answer an earlier attempt received before its worker died: returned without a new request. */
  recovered?: boolean;
  throttles?: number;
  /** Estimated USD cost (null: the model has no price). */
  costUsd?: number | null;
}

/** The reply's text and tool_use blocks, as plain JSON. */
export function turnContent(msg: Pick<Anthropic.Message, 'content'>): (AgentTextBlock | AgentToolUseBlock)[] {
  return msg.content.flatMap((b): (AgentTextBlock | AgentToolUseBlock)[] =>
    b.type === 'text'
      ? [{ type: 'text', text: b.text }]
      : b.type === 'tool_use'
        ? [{ type: 'tool_use', id: b.id, name: b.name, input: (b.input ?? {}) as Record<string, unknown> }]
        : [],
  );
}

/** The request body of a turn. */
export function turnParams(input: AgentTurnInput, model: string, maxTokens: number): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model,
    max_tokens: maxTokens,
    ...(input.system ? { system: input.system } : {}),
    messages: input.messages as Anthropic.MessageParam[],
    ...(input.tools.length ? { tools: input.tools as Anthropic.Tool[] } : {}),
  };
}

/** Builds the LLM activities around an SDK client. */
export function createLlmActivities(deps: LlmDeps) {
  const heartbeatEvery = deps.heartbeatIntervalMs ?? 1000;

  /**
   * One Messages API request through everything a call goes through (heartbeats carrying the
   * answer, journal, flow control, admission, throttle waits, hedging, error classification, abort
   * on cancel); `complete` decides what to return (recovered answer, cache, new request).
   */
  async function invoke<R>(spec: CallSpec, complete: (c: CallContext) => Promise<R>): Promise<R> {
    const ctx = Context.current();
    const attempt = ctx.info.attempt;
    // A local activity sends no heartbeat (nothing reaches the server; its liveness is the workflow task's).
    const local = ctx.info.isLocal;
    const started = Date.now();
    const { model, maxTokens } = spec;
    // Once the provider has answered, every heartbeat carries the answer (see AnswerHeartbeat).
    let heartbeatDetails: AnswerHeartbeat | undefined;
    // Before the answer, a streamed call's heartbeats carry its progress (characters, output tokens).
    const tick = () => ctx.heartbeat(heartbeatDetails ?? spec.publish?.progress());
    let beat: NodeJS.Timeout | undefined;
    let first: NodeJS.Timeout | undefined;
    const firstDelay = deps.firstHeartbeatDelayMs ?? 0;
    if (local) {
      // No heartbeats at all.
    } else if (firstDelay > 0) {
      // A call shorter than firstDelay sends one heartbeat: the one carrying its answer (keep, below).
      first = setTimeout(() => {
        tick();
        beat = setInterval(tick, heartbeatEvery);
      }, firstDelay);
    } else {
      ctx.heartbeat();
      beat = setInterval(tick, heartbeatEvery);
    }
    // A standalone activity (no workflow) has no stable identity across attempts to journal under.
    const run = ctx.info.workflowExecution;
    const journalKey: JournalKey | undefined = run
      ? { namespace: ctx.info.workflowNamespace ?? '', workflowId: run.workflowId, runId: run.runId, activityId: ctx.info.activityId }
      : undefined;

    const need = { inputTokens: estimateInputTokens(spec), maxOutputTokens: maxTokens };
    const throttleDeadline = ctx.info.scheduledTimestampMs + (spec.throttleDeadlineMs ?? deps.throttleDeadlineMs ?? DEFAULT_THROTTLE_DEADLINE_MS);
    const attemptDeadline = ctx.info.currentAttemptScheduledTimestampMs + ctx.info.startToCloseTimeoutMs - ATTEMPT_MARGIN_MS;
    let throttles = 0;
    let lastThrottle = '';
    /** The call waited (for flow control, or out 429s) past its throttle deadline, or its attempt's. */
    const tooLong = (deadline: boolean) => {
      const waited = Math.round((Date.now() - ctx.info.scheduledTimestampMs) / 1000);
      const why = throttles ? `throttled ${throttles} × (last: ${lastThrottle})` : 'waiting for flow control';
      return deadline
        ? ApplicationFailure.nonRetryable(
            `${why} for ${waited} s, past the call's throttle deadline of ${Math.round((throttleDeadline - ctx.info.scheduledTimestampMs) / 1000)} s; raise throttleDeadlineMs (LLM_THROTTLE_DEADLINE_MS) or the provider's limits`,
            'ThrottledTooLong',
            { attempt, throttles },
          )
        : ApplicationFailure.retryable(`${why} until the attempt's deadline`, 'RateLimited', { attempt, throttles });
    };

    /**
     * One request, behind this process's flow control and the fleet's admission (when configured).
     * A throttled request (429 that is not a spend limit, 529) waits for the provider's
     * retry-after and goes again in this attempt, until the call's throttle deadline.
     */
    const send = async (signal: AbortSignal, sent?: () => void): Promise<CachedResponse> => {
      let notBefore = 0;
      for (;;) {
        // Waiting for a slot ends at the throttle deadline (or just before the attempt's own).
        const waitUntil = Math.min(throttleDeadline, attemptDeadline);
        let slot: FlowSlot | undefined;
        if (deps.flow) {
          const wait = withTimeout(signal, waitUntil - Date.now());
          try {
            slot = await deps.flow.acquire(model, need, wait.signal, notBefore);
          } catch (err) {
            if (signal.aborted) throw err;
            throw tooLong(waitUntil === throttleDeadline);
          } finally {
            wait.clear();
          }
        }
        let permit: Awaited<ReturnType<Admission['acquire']>> | undefined;
        try {
          permit = deps.admission
            ? await deps.admission.acquire({ model, prompt: spec.prompt, system: spec.system, maxTokens, ...(run ? { group: `${run.workflowId}/${run.runId}` } : {}) }, signal)
            : undefined;
        } catch (err) {
          slot?.release({ outcome: 'unused' });
          throw err;
        }
        const sentAt = Date.now();
        sent?.();
        // The request's own timeout counts from now, not from the attempt's start.
        const requestTimeout = spec.requestTimeoutMs ? withTimeout(signal, spec.requestTimeoutMs) : undefined;
        const requestSignal = requestTimeout?.signal ?? signal;
        try {
          const { msg, headers } = spec.publish ? await streamed(spec.body, requestSignal, spec.publish) : await created(spec.body, requestSignal);
          const text = spec.answerText(msg);
          const tokens = { input: msg.usage.input_tokens, output: msg.usage.output_tokens };
          const durationMs = Date.now() - sentAt;
          slot?.release({ outcome: 'success', headers: parseRateLimitHeaders((n) => headers?.get(n) ?? null), tokens });
          // Bookkeeping never stands between the answer and the activity's completion: the settle
          // retries on its own, and the process's next held-permits report repairs a lost one.
          void permit?.settle({ outcome: 'success', tokens, sentAt });
          return { text, model: msg.model, stopReason: msg.stop_reason ?? null, tokens, durationMs, storedAt: Date.now() };
        } catch (caught) {
          const timedOut = requestTimeout?.timedOut() === true && !signal.aborted;
          const err = timedOut ? ApplicationFailure.retryable(`the LLM request timed out after ${spec.requestTimeoutMs} ms`, 'Timeout', { attempt }) : caught;
          const c = classifyLlmError(err);
          const throttled = !timedOut && (c.type === 'RateLimited' || c.type === 'Overloaded');
          slot?.release({ outcome: signal.aborted ? 'unused' : throttled ? 'throttled' : 'error', headers: headersOfError(err), retryAfterMs: c.retryAfterMs });
          void permit?.settle({ outcome: throttled ? 'throttled' : 'error', retryAfterMs: c.retryAfterMs, sentAt, cancelled: ctx.cancellationSignal.aborted });
          // Once text was published, going again in this attempt would publish it twice: end the
          // attempt instead (Temporal retries it, and the retry's first chunk resets the call's text).
          if (!throttled || !deps.flow || signal.aborted || spec.publish?.started) throw err;
          throttles++;
          lastThrottle = `${c.status ?? c.type}`;
          const resumeAt = Date.now() + (c.retryAfterMs ?? DEFAULT_THROTTLE_WAIT_MS);
          notBefore = resumeAt;
          if (resumeAt > throttleDeadline) throw tooLong(true);
          // Out of attempt time: end this attempt (Temporal retries after the retry-after).
          if (resumeAt > attemptDeadline) throw err;
          deps.metrics?.recordThrottle(model, String(c.status ?? c.type));
          log.info('LLM call throttled; waiting to go again', { model, attempt, throttles, status: c.status, retryAfterMs: c.retryAfterMs });
        } finally {
          requestTimeout?.clear();
        }
      }
    };

    /** The call: one request, or a hedged pair when hedging is on and the model's p95 is known. */
    const request = async (): Promise<CachedResponse> => {
      const delay = spec.publish ? undefined : deps.hedging?.delayFor(model);
      const t0 = Date.now();
      const r =
        delay === undefined
          ? await send(ctx.cancellationSignal)
          : await hedgedRace(send, delay, ctx.cancellationSignal, () => {
              deps.metrics?.recordHedge(model);
              deps.hedging?.hedged(model);
              log.info('LLM call hedged', { model, attempt, afterMs: delay });
            });
      deps.hedging?.observe(model, r.durationMs);
      // A hedged call took as long as the caller waited, not as long as its winning request.
      const answer = delay === undefined ? r : { ...r, durationMs: Date.now() - t0 };
      await keep(answer);
      return answer;
    };

    /** Keeps a paid answer where a retry finds it (journal, heartbeat details) before completing. */
    const keep = async (answer: CachedResponse): Promise<void> => {
      if (answer.text.length <= MAX_HEARTBEAT_ANSWER_CHARS) {
        heartbeatDetails = { answer };
        if (!local) ctx.heartbeat(heartbeatDetails);
      }
      if (journalKey)
        await deps.journal?.put(journalKey, answer).catch((err: unknown) => log.warn('LLM answer not journaled', { error: err instanceof Error ? err.message : String(err) }));
      if (deps.testOnlyPauseAfterAnswerMs) {
        console.error(`TEST-ONLY pause after the LLM answer (${deps.testOnlyPauseAfterAnswerMs} ms): ${ctx.info.activityId}`);
        await new Promise((r) => setTimeout(r, deps.testOnlyPauseAfterAnswerMs));
      }
    };

    /** An answer an earlier attempt of this activity received: returned instead of a new request. */
    const recovered = async (): Promise<CachedResponse | undefined> => {
      // A local activity re-run after a crash starts again at attempt 1: only the journal knows.
      if (attempt === 1 && !local) return undefined;
      return answerFromHeartbeat(ctx.info.heartbeatDetails) ?? (journalKey ? await deps.journal?.get(journalKey, spec.journalSinceMs).catch(() => undefined) : undefined);
    };

    try {
      return await complete({ attempt, started, request, recovered, throttles: () => throttles, signal: ctx.cancellationSignal });
    } catch (err) {
      if (ctx.cancellationSignal.aborted) {
        // Report cancellation as such, not as a failed call, so the workflow sees a cancelled task.
        const reason: unknown = ctx.cancellationSignal.reason;
        throw reason instanceof CancelledFailure ? reason : new CancelledFailure('LLM call cancelled');
      }
      const failure = toActivityFailure(err, attempt);
      const type = failure instanceof CancelledFailure ? 'Cancelled' : (failure.type ?? 'Error');
      deps.metrics?.recordFailure(model, type, attempt);
      log.warn('LLM call failed', { model, attempt, errorType: type, error: failure.message, durationMs: Date.now() - started });
      throw failure;
    } finally {
      clearTimeout(first);
      clearInterval(beat);
      spec.publish?.abandon();
    }
  }

  /** The plain request: the whole reply at once. */
  async function created(body: Anthropic.MessageCreateParamsNonStreaming, signal: AbortSignal): Promise<{ msg: Anthropic.Message; headers: Headers | undefined }> {
    const { data: msg, response } = await deps.anthropic.messages.create(body, { signal }).withResponse();
    return { msg, headers: response.headers };
  }

  /** The streamed request: text deltas go to the publisher as they arrive; the final message is the same as create's. */
  async function streamed(
    body: Anthropic.MessageCreateParamsNonStreaming,
    signal: AbortSignal,
    publish: StreamPublisher,
  ): Promise<{ msg: Anthropic.Message; headers: Headers | undefined }> {
    const s = deps.anthropic.messages.stream(body, { signal });
    s.on('text', (delta) => publish.text(delta));
    s.on('streamEvent', (e) => {
      if (e.type === 'message_delta') publish.outputTokens = e.usage.output_tokens;
      else if (e.type === 'message_start') publish.outputTokens = e.message.usage.output_tokens;
    });
    const msg = await s.finalMessage();
    return { msg, headers: s.response?.headers };
  }

  /** The publisher of a streamed call, or undefined when it does not stream (or has no client to signal with). */
  function publisherFor(target: StreamTarget | undefined, live: boolean): StreamPublisher | undefined {
    if (!target) return undefined;
    const ctx = Context.current();
    let client: Context['client'];
    try {
      client = ctx.client;
    } catch (err) {
      log.debug('no Temporal client in this activity context: not streaming', { error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
    const handle = client.workflow.getHandle(target.workflowId);
    return new StreamPublisher((chunk) => handle.signal(streamChunkSignal, chunk), target.callId, ctx.info.attempt, { flushMs: deps.streamFlushMs, live });
  }

  /** Calls the Messages API once; Temporal retries per the workflow's policy. */
  async function callLlm(input: LlmCallInput): Promise<LlmCallResult> {
    const model = input.model ?? deps.defaults.model;
    const maxTokens = input.maxTokens ?? deps.defaults.maxTokens;
    // The activity logger carries workflow and activity ids; prompts only at debug level when asked for.
    log.debug('LLM call starting', {
      model,
      attempt: Context.current().info.attempt,
      promptChars: input.prompt.length,
      ...(deps.logPrompts ? { promptPreview: input.prompt.slice(0, 200) } : {}),
    });
    const spec: CallSpec = {
      model,
      maxTokens,
      body: messageParams(input, model, maxTokens),
      prompt: input.prompt,
      system: input.system,
      throttleDeadlineMs: input.throttleDeadlineMs,
      requestTimeoutMs: input.requestTimeoutMs,
      journalSinceMs: input.journalSinceMs,
      answerText: (msg) => replyText(msg, input.output),
      // A structured output's answer is the tool input as JSON: published whole at the end.
      publish: publisherFor(input.stream, !input.output),
    };
    const published = async (text: string) => spec.publish?.end(text);
    return invoke(spec, async (c) => {
      const earlier = await c.recovered();
      if (earlier) {
        log.info('LLM answer of an earlier attempt returned: no new request', { model: earlier.model, attempt: c.attempt });
        await published(earlier.text);
        return { ...finish(earlier, c.attempt), recovered: true };
      }
      if (input.cache && deps.cache) {
        const key = cacheKey({ model, system: input.system, prompt: input.prompt, maxTokens, output: input.output });
        const { response, hit, shared } = await deps.cache.getOrCall(key, input.cache.ttlSeconds * 1000, c.request, c.signal);
        if (hit || shared) {
          const saved = response.tokens;
          deps.metrics?.recordCacheHit(response.model, saved);
          log.info('LLM call answered from cache', { model: response.model, attempt: c.attempt, shared, tokensSaved: saved.input + saved.output });
          await published(response.text);
          return {
            text: response.text,
            model: response.model,
            stopReason: response.stopReason,
            tokens: { input: 0, output: 0 },
            durationMs: Date.now() - c.started,
            attempt: c.attempt,
            costUsd: 0,
            cached: true,
            tokensSaved: saved,
            costSavedUsd: estimateCost(response.model, saved, deps.prices ?? {}),
          };
        }
        await published(response.text);
        return { ...finish(response, c.attempt), ...(c.throttles() ? { throttles: c.throttles() } : {}) };
      }
      const answer = await c.request();
      await published(answer.text);
      return { ...finish(answer, c.attempt), ...(c.throttles() ? { throttles: c.throttles() } : {}) };
    });
  }

  /** Metrics, log line and result of a call that was really made. */
  function finish(r: CachedResponse, attempt: number): LlmCallResult {
    const costUsd = estimateCost(r.model, r.tokens, deps.prices ?? {});
    deps.metrics?.recordSuccess(r.model, r.tokens, r.durationMs, costUsd, attempt);
    log.info('LLM call finished', { model: r.model, attempt, durationMs: r.durationMs, inputTokens: r.tokens.input, outputTokens: r.tokens.output, stopReason: r.stopReason });
    return { text: r.text, model: r.model, stopReason: r.stopReason, tokens: r.tokens, durationMs: r.durationMs, attempt, costUsd, cached: false };
  }

  /** One model turn of an agent (no cache: a conversation's turn is never shared). */
  async function agentTurn(input: AgentTurnInput): Promise<AgentTurnResult> {
    const model = input.model ?? deps.defaults.model;
    const maxTokens = input.maxTokens ?? deps.defaults.maxTokens;
    // Admission and flow control estimate the input from the conversation and the tools as sent.
    const prompt = JSON.stringify(input.messages) + (input.tools.length ? JSON.stringify(input.tools) : '');
    log.debug('LLM turn starting', { model, attempt: Context.current().info.attempt, messages: input.messages.length, tools: input.tools.length });
    const spec: CallSpec = {
      model,
      maxTokens,
      body: turnParams(input, model, maxTokens),
      prompt,
      system: input.system,
      throttleDeadlineMs: input.throttleDeadlineMs,
      requestTimeoutMs: input.requestTimeoutMs,
      // The content blocks are the answer: journaled and heartbeated as JSON text.
      answerText: (msg) => JSON.stringify(turnContent(msg)),
      publish: publisherFor(input.stream, true),
    };
    return invoke(spec, async (c) => {
      const earlier = await c.recovered();
      const r = earlier ?? (await c.request());
      if (earlier) log.info('LLM answer of an earlier attempt returned: no new request', { model: earlier.model, attempt: c.attempt });
      const { costUsd } = finish(r, c.attempt);
      const content = JSON.parse(r.text) as AgentTurnResult['content'];
      // What was not streamed yet (all of it for a recovered answer) is published now: the text blocks, not the JSON.
      await spec.publish?.end(
        content
          .filter((b): b is AgentTextBlock => b.type === 'text')
          .map((b) => b.text)
          .join(''),
      );
      return {
        content,
        stopReason: r.stopReason,
        tokens: r.tokens,
        costUsd,
        model: r.model,
        durationMs: r.durationMs,
        attempt: c.attempt,
        ...(earlier ? { recovered: true } : {}),
        ...(c.throttles() ? { throttles: c.throttles() } : {}),
      };
    });
  }

  return { callLlm, agentTurn };
}
