/**
 * The durable agent loop: each model turn is one `agentTurn` activity (on the LLM queue, retried
 * as LLM calls are); every tool_use block of a turn runs as its own `runAgentTool` activity (on the
 * tool queue), all of one turn in parallel; their results go back as tool_result blocks (a failed
 * tool as `is_error: true` with the failure's message). The loop ends on a stop reason other than
 * tool_use, at maxTurns, on cancellation (the turns so far are kept) or when a turn fails for good.
 *
 * History: a turn costs about 3 + 3 × tools events and carries the conversation so far as its
 * input, so maxTurns ≤ 50 with the built-in tools stays far below Temporal's history limits; no
 * continue-as-new yet (a longer-lived agent would need one, with the conversation carried over).
 */
import { ActivityCancellationType, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { AgentMessage, AgentTextBlock, AgentToolResultBlock, AgentToolUseBlock, AgentTurnResult, LlmActivities } from '../activities';
import { agentToolSpecs, parseAgentInput, type AgentInput, type AgentResult, type AgentToolCallRecord, type AgentTurnRecord } from '../core/agent';
import { DEFAULT_THROTTLE_DEADLINE_MS } from '../core/flow';
import { activitySummary } from '../core/names';
import { describeFailure } from './lib/failures';
import { LLM_ATTEMPT_TIMEOUT_MS, LLM_HEARTBEAT_TIMEOUT_MS, LLM_MAX_ATTEMPTS, LLM_RETRY, activityQueue, fairnessKey } from './lib/llm-task';
import { TOOL_RETRY, toolActivities } from './lib/tool-task';
import { validateOrFail } from './lib/validate';

/** The text blocks of a reply, joined. */
function textOf(content: AgentTurnResult['content']): string {
  return content
    .filter((b): b is AgentTextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('');
}

/** Runs an agent: model turns with tools until the model ends its turn (see the module comment). */
export async function agent(input: AgentInput): Promise<AgentResult> {
  const a = validateOrFail(() => parseAgentInput(input));
  const tools = agentToolSpecs(a.tools);
  const llm = proxyActivities<LlmActivities>({
    taskQueue: activityQueue(undefined, a.llmTaskQueue),
    // Waiting for flow control (and out 429s) happens inside the attempt: as in runLlmTask.
    startToCloseTimeout: LLM_ATTEMPT_TIMEOUT_MS + DEFAULT_THROTTLE_DEADLINE_MS,
    heartbeatTimeout: LLM_HEARTBEAT_TIMEOUT_MS,
    // A cancelled agent waits until its in-flight request is really aborted, so it stops paying.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: LLM_RETRY,
    priority: { fairnessKey: fairnessKey({}) },
  });
  const toolActs = toolActivities({}, a.toolTaskQueue);

  const messages: AgentMessage[] = [{ role: 'user', content: a.prompt }];
  const turns: AgentTurnRecord[] = [];
  const total = { input: 0, output: 0 };
  let text = '';
  const done = (stoppedBy: AgentResult['stoppedBy'], extra: Partial<AgentResult> = {}): AgentResult => ({ text, stoppedBy, turns, tokens: total, ...extra });

  for (let turn = 1; ; turn++) {
    let r: AgentTurnResult;
    try {
      r = await llm.agentTurn.executeWithOptions({ summary: activitySummary(`agent turn ${turn}`) }, [
        {
          messages,
          tools,
          ...(a.system ? { system: a.system } : {}),
          ...(a.model ? { model: a.model } : {}),
          ...(a.maxTokens ? { maxTokens: a.maxTokens } : {}),
          requestTimeoutMs: LLM_ATTEMPT_TIMEOUT_MS,
        },
      ]);
    } catch (err) {
      if (isCancellation(err)) return done('cancelled');
      const f = describeFailure(err, LLM_MAX_ATTEMPTS);
      return done('failed', { error: f.message, errorType: f.type });
    }
    total.input += r.tokens.input;
    total.output += r.tokens.output;
    const said = textOf(r.content);
    if (said) text = said;
    const record: AgentTurnRecord = { turn, tokens: r.tokens, toolCalls: [], durationMs: r.durationMs, stopReason: r.stopReason };
    turns.push(record);
    const calls = r.content.filter((b): b is AgentToolUseBlock => b.type === 'tool_use');
    if (r.stopReason !== 'tool_use' || calls.length === 0) return done('end-turn');
    // No turn left to read the results: the calls are not made.
    if (turn >= a.maxTurns) return done('max-turns');

    let cancelled = false;
    const outcomes = await Promise.all(
      calls.map(async (call): Promise<{ block: AgentToolResultBlock; rec: AgentToolCallRecord }> => {
        const started = Date.now();
        try {
          const out = await toolActs.runAgentTool.executeWithOptions({ summary: activitySummary(`${call.name} (turn ${turn})`) }, [{ name: call.name, input: call.input }]);
          return { block: { type: 'tool_result', tool_use_id: call.id, content: out.content }, rec: { name: call.name, id: call.id, isError: false, durationMs: out.durationMs } };
        } catch (err) {
          if (isCancellation(err)) cancelled = true;
          const f = describeFailure(err, TOOL_RETRY.maximumAttempts ?? 1);
          return {
            block: { type: 'tool_result', tool_use_id: call.id, content: f.message, is_error: true },
            rec: { name: call.name, id: call.id, isError: true, durationMs: Date.now() - started, error: f.message },
          };
        }
      }),
    );
    record.toolCalls = outcomes.map((o) => o.rec);
    if (cancelled) return done('cancelled');
    messages.push({ role: 'assistant', content: r.content }, { role: 'user', content: outcomes.map((o) => o.block) });
  }
}
