/**
 * The LLM activity: one Messages API call through the real Anthropic SDK.
 * It heartbeats while waiting so a dead worker's call is retried within the heartbeat timeout,
 * passes the activity's cancellation signal to the request so a cancelled run stops paying,
 * and classifies every failure once (see ../llm/errors).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { Context, log } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { estimateCost, type Price } from '../core/pricing';
import type { Tokens } from '../core/tasks';
import type { LlmMetrics } from '../metrics';
import { toActivityFailure } from '../llm/errors';

/** One LLM call. */
export interface LlmCallInput {
  prompt: string;
  system?: string;
  model?: string;
  maxTokens?: number;
}

/** What one LLM call returns. */
export interface LlmCallResult {
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
}

/** What the LLM activities need. */
export interface LlmDeps {
  anthropic: Anthropic;
  defaults: { model: string; maxTokens: number };
  /** How often to heartbeat while waiting on the model. */
  heartbeatIntervalMs?: number;
  /** USD per million tokens, per model. */
  prices?: Record<string, Price>;
  metrics?: LlmMetrics;
  /** Log prompt previews (debug only: prompts may hold user data). */
  logPrompts?: boolean;
}

/** Builds the LLM activities around an SDK client. */
export function createLlmActivities(deps: LlmDeps) {
  const heartbeatEvery = deps.heartbeatIntervalMs ?? 1000;

  /** Calls the Messages API once; Temporal retries per the workflow's policy. */
  async function callLlm(input: LlmCallInput): Promise<LlmCallResult> {
    const ctx = Context.current();
    const attempt = ctx.info.attempt;
    const started = Date.now();
    const model = input.model ?? deps.defaults.model;
    // The activity logger carries workflow and activity ids; prompts only at debug level when asked for.
    log.debug('LLM call starting', { model, attempt, promptChars: input.prompt.length, ...(deps.logPrompts ? { promptPreview: input.prompt.slice(0, 200) } : {}) });
    ctx.heartbeat();
    const beat = setInterval(() => ctx.heartbeat(), heartbeatEvery);
    try {
      const msg = await deps.anthropic.messages.create(
        {
          model,
          max_tokens: input.maxTokens ?? deps.defaults.maxTokens,
          ...(input.system ? { system: input.system } : {}),
          messages: [{ role: 'user', content: input.prompt }],
        },
        { signal: ctx.cancellationSignal },
      );
      const text = msg.content
        .filter((b): b is Anthropic.TextBlock => b.type === 'text')
        .map((b) => b.text)
        .join('');
      const tokens = { input: msg.usage.input_tokens, output: msg.usage.output_tokens };
      const durationMs = Date.now() - started;
      const costUsd = estimateCost(msg.model, tokens, deps.prices ?? {});
      deps.metrics?.recordSuccess(msg.model, tokens, durationMs, costUsd, attempt);
      log.info('LLM call finished', { model: msg.model, attempt, durationMs, inputTokens: tokens.input, outputTokens: tokens.output, stopReason: msg.stop_reason });
      return { text, model: msg.model, stopReason: msg.stop_reason ?? null, tokens, durationMs, attempt, costUsd };
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
      clearInterval(beat);
    }
  }

  return { callLlm };
}
