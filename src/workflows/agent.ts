/**
 * The durable agent loop: the tools the agent names are looked up on the tools worker first
 * (`describeAgentTools`: an unknown name fails the run as InvalidInput before any LLM call); then
 * each model turn is one `agentTurn` activity (on the LLM queue, retried and admitted as LLM calls
 * are); every tool_use block of a turn runs as its own `runAgentTool` activity (on the tool
 * queue), all of one turn in parallel; their results go back as tool_result blocks (a failed tool
 * as `is_error: true` with the failure's message). The loop ends on a stop reason other than
 * tool_use, at maxTurns, at its token budget, on cancellation (the turns so far are kept) or when
 * a turn fails for good.
 *
 * History: every turn's input repeats the conversation so far, so once the history passes
 * `historyBytesLimit` (default 4 MB, or when the server suggests it) the run continues as new,
 * carrying the conversation, the turns so far and the tool definitions; a parent awaiting the
 * agent (a DAG node) gets the last run's result.
 */
import { continueAsNew, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { AgentMessage, AgentTextBlock, AgentToolResultBlock, AgentToolUseBlock, AgentTurnResult } from '../activities';
import { AGENT_HISTORY_BYTES, parseAgentInput, type AgentCarry, type AgentInput, type AgentResult, type AgentToolCallRecord, type AgentTurnRecord } from '../core/agent';
import { activitySummary } from '../core/names';
import { describeFailure } from './lib/failures';
import { llmActivities, llmMaxAttempts, llmRequestTimeoutMs } from './lib/llm-task';
import { TOOL_RETRY, describeAgentToolsOrFail, toolActivities } from './lib/tool-task';
import { installStream } from './lib/stream';
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
  const carried = a.carried as AgentCarry | undefined;
  const requestTimeoutMs = llmRequestTimeoutMs(a);
  const maxAttempts = llmMaxAttempts(a);
  // Scheduled as every LLM call of a run is (timeouts, retries, waiting for the cancelled request, fairness).
  const llm = llmActivities(a);
  const toolActs = toolActivities({}, a.toolTaskQueue);
  // Streaming: into this agent's own channel unless a parent run's is named.
  if (a.stream && !a.streamTo) installStream();
  const streamTo = a.streamTo ?? workflowInfo().workflowId;
  const tools = carried?.tools ?? (await describeAgentToolsOrFail(a.tools, a.toolTaskQueue));

  const messages = (carried?.messages as AgentMessage[] | undefined) ?? [{ role: 'user', content: a.prompt }];
  const turns: AgentTurnRecord[] = carried?.turns ?? [];
  const total = carried?.tokens ?? { input: 0, output: 0 };
  let text = carried?.text ?? '';
  let costUsd = carried?.costUsd ?? 0;
  const continued = carried?.continued ?? 0;
  const done = (stoppedBy: AgentResult['stoppedBy'], extra: Partial<AgentResult> = {}): AgentResult => ({
    text,
    stoppedBy,
    turns,
    tokens: total,
    costUsd,
    ...(continued ? { continued } : {}),
    ...extra,
  });
  const historyLimit = a.historyBytesLimit ?? AGENT_HISTORY_BYTES;

  // Each run makes at least one turn before it may continue as new (so a chain always progresses).
  for (let turn = turns.length + 1, first = true; ; turn++, first = false) {
    if (a.maxTotalTokens !== undefined && total.input + total.output >= a.maxTotalTokens) return done('budget');
    const info = workflowInfo();
    if (!first && (info.historySize >= historyLimit || info.continueAsNewSuggested)) {
      const carry: AgentCarry = { messages, turns, tokens: total, costUsd, text, tools, continued: continued + 1 };
      return continueAsNew<typeof agent>({ ...input, carried: carry });
    }
    let r: AgentTurnResult;
    try {
      r = await llm.agentTurn.executeWithOptions({ summary: activitySummary(`agent turn ${turn}`) }, [
        {
          messages,
          tools,
          ...(a.system ? { system: a.system } : {}),
          ...(a.model ? { model: a.model } : {}),
          ...(a.maxTokens ? { maxTokens: a.maxTokens } : {}),
          requestTimeoutMs,
          ...(a.throttleDeadlineMs ? { throttleDeadlineMs: a.throttleDeadlineMs } : {}),
          // Absent unless the agent streams, so the activity input stays as it was.
          ...(a.stream ? { stream: { workflowId: streamTo, callId: `${a.streamId ?? 'agent'}#${turn}` } } : {}),
        },
      ]);
    } catch (err) {
      if (isCancellation(err)) return done('cancelled');
      const f = describeFailure(err, maxAttempts);
      return done('failed', { error: f.message, errorType: f.type });
    }
    total.input += r.tokens.input;
    total.output += r.tokens.output;
    costUsd += r.costUsd ?? 0;
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
