/**
 * `<pkg>/workflow`: workflow-safe building blocks for your own workflows (import them only from
 * workflow code; they are deterministic and proxy the package's activities).
 *
 *   const { results } = await executeGraph(nodes, { maxConcurrent: 4, policy: { llm: { attemptTimeoutMs: 60_000 } } });
 */
export { executeGraph, type ExecNode, type GraphOptions, type GraphOutcome, type NodeCall, type NodeResult } from '../workflows/lib/graph';
export { DEFAULT_MAX_CONCURRENT, runBounded, type BoundedOptions } from '../workflows/lib/bounded';
export {
  LLM_ATTEMPT_TIMEOUT_MS,
  LLM_HEARTBEAT_TIMEOUT_MS,
  LLM_MAX_ATTEMPTS,
  LLM_RETRY,
  fairnessKey,
  runLlmTask,
  type LlmCallPolicy,
  type LlmTask,
} from '../workflows/lib/llm-task';
export { runAgentTask, checkAgentTools, agentWorkflowId, type AgentTask } from '../workflows/lib/agent-task';
export { installStream, streamInstalled } from '../workflows/lib/stream';
export type { StreamRouting } from '../workflows/lib/llm-task';
export { TOOL_RETRY, describeAgentToolsOrFail, runToolTask, toolActivities, type ToolCallPolicy, type ToolTask } from '../workflows/lib/tool-task';
export type { CallPolicy } from '../workflows/lib/policy';
export { BudgetGate } from '../workflows/lib/budget-gate';
export { RankedSlots } from '../workflows/lib/ranked-slots';
export { validateOrFail } from '../workflows/lib/validate';
export { specToExecNodes } from '../workflows/run-dag';
export { progressQuery } from '../protocol';
export { ProgressTracker, type Progress } from '../core/progress';
export { computeStats, InvalidInputError, type CallOptions, type RunStats, type TaskResult, type TaskState } from '../core/tasks';
export type { DagParams, DagSpec, ToolCall } from '../core/dag';
export type { LlmActivities, ToolActivities, LlmCallInput, LlmCallResult } from '../activities';
