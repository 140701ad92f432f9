/**
 * A task (DAG node, fan-out task, pipeline task) that is an agent: the `agent` workflow as a child
 * whose id is `<parent>/<task>`, its result turned into a TaskResult (output = the agent's final
 * text). It succeeds only when the model ended its turn; stopping at maxTurns, at the budget or on
 * a failed turn is a failure with the turns so far in `agent`. Workflow-side only.
 */
import { ApplicationFailure, ChildWorkflowFailure, executeChild, isCancellation, workflowInfo } from '@temporalio/workflow';
import { fairnessKey, type StreamRouting } from './llm-task';
import { streamInstalled } from './stream';
import { describeAgentToolsOrFail } from './tool-task';
import { DEFAULT_AGENT_TURNS, type AgentOptions, type AgentResult } from '../../core/agent';
import { cancelled, failed, succeeded } from '../../core/results';
import type { AgentRunSummary, CallOptions, TaskResult } from '../../core/tasks';
import { agent } from '../agent';

/** One agent task. */
export interface AgentTask {
  taskId: string;
  name: string;
  prompt: string;
  system?: string;
  model?: string;
  maxTokens?: number;
  agent: AgentOptions;
}

/** The child workflow id of a task's agent. */
export function agentWorkflowId(taskId: string): string {
  return `${workflowInfo().workflowId}/${taskId}`;
}

function summary(workflowId: string, r: AgentResult): AgentRunSummary {
  const toolCalls: Record<string, number> = {};
  let toolErrors = 0;
  for (const t of r.turns)
    for (const c of t.toolCalls) {
      toolCalls[c.name] = (toolCalls[c.name] ?? 0) + 1;
      if (c.isError) toolErrors++;
    }
  return { workflowId, stoppedBy: r.stoppedBy, turns: r.turns.length, toolCalls, toolErrors };
}

const STOP_ERRORS: Record<string, { type: string; message: (r: AgentResult, max: number) => string }> = {
  'max-turns': { type: 'AgentMaxTurns', message: (_r, max) => `the agent reached maxTurns (${max}) before it finished` },
  budget: { type: 'BudgetExceeded', message: () => "the agent stopped at the run's token budget" },
  failed: { type: 'AgentTurnFailed', message: (r) => `a model turn failed: ${r.error ?? 'unknown error'}` },
};

/** Runs an agent task as a child workflow; never throws except for cancellation of the workflow itself. */
export async function runAgentTask(task: AgentTask, opts: CallOptions & StreamRouting & { tokensLeft?: number } = {}): Promise<TaskResult> {
  const started = Date.now();
  const base = { taskId: task.taskId, name: task.name };
  const workflowId = agentWorkflowId(task.taskId);
  const maxTurns = task.agent.maxTurns;
  // Only into a channel that exists: the run's root (streamTo) or this workflow's own.
  const streamTo = opts.stream ? (opts.streamTo ?? (streamInstalled() ? workflowInfo().workflowId : undefined)) : undefined;
  try {
    const r = await executeChild(agent, {
      workflowId,
      args: [
        {
          prompt: task.prompt,
          tools: task.agent.tools,
          ...(maxTurns ? { maxTurns } : {}),
          ...((task.agent.system ?? task.system) !== undefined ? { system: task.agent.system ?? task.system } : {}),
          ...((task.model ?? opts.model) ? { model: task.model ?? opts.model } : {}),
          ...((task.maxTokens ?? opts.maxTokens) ? { maxTokens: task.maxTokens ?? opts.maxTokens } : {}),
          ...(opts.tokensLeft !== undefined ? { maxTotalTokens: Math.max(1, opts.tokensLeft) } : {}),
          ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
          ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
          ...(opts.throttleDeadlineMs ? { throttleDeadlineMs: opts.throttleDeadlineMs } : {}),
          // The parent's fairness key: its agents share the run's place in the queue.
          tenant: fairnessKey(opts),
          ...(opts.llmTaskQueue ? { llmTaskQueue: opts.llmTaskQueue } : {}),
          ...(opts.toolTaskQueue ? { toolTaskQueue: opts.toolTaskQueue } : {}),
          // A streaming run's agents publish each turn to the run's channel as `<task>#<turn>`.
          ...(streamTo ? { stream: true, streamTo, streamId: task.taskId } : {}),
        },
      ],
    });
    const agentSummary = summary(workflowId, r);
    const durationMs = Date.now() - started;
    if (r.stoppedBy === 'cancelled') return { ...cancelled(base, durationMs), tokens: r.tokens, costUsd: r.costUsd ?? null, agent: agentSummary };
    const stopError = STOP_ERRORS[r.stoppedBy];
    if (stopError) {
      const errorType = r.stoppedBy === 'failed' && r.errorType ? r.errorType : stopError.type;
      return {
        ...failed(base, { error: stopError.message(r, maxTurns ?? DEFAULT_AGENT_TURNS), errorType, durationMs, attempts: 1 }),
        tokens: r.tokens,
        costUsd: r.costUsd ?? null,
        agent: agentSummary,
      };
    }
    return {
      ...succeeded(base, { output: r.text, durationMs, attempts: 1, tokens: r.tokens, costUsd: r.costUsd ?? null, stopReason: r.turns.at(-1)?.stopReason ?? null }),
      agent: agentSummary,
    };
  } catch (err) {
    const durationMs = Date.now() - started;
    if (isCancellation(err)) return cancelled(base, durationMs);
    const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
    const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'AgentFailed';
    const message = cause instanceof Error ? cause.message : String(cause);
    return failed(base, { error: message, errorType: type, durationMs, attempts: 1 });
  }
}

/** Checks, before any LLM call, that the tools worker offers every tool a run's agents name (InvalidInput otherwise). */
export async function checkAgentTools(tasks: { agent?: AgentOptions }[], opts: Pick<CallOptions, 'toolTaskQueue'>): Promise<void> {
  await describeAgentToolsOrFail([...new Set(tasks.flatMap((t) => t.agent?.tools ?? []))], opts.toolTaskQueue);
}
