/**
 * The activity factories (`<pkg>/activities`): workflows proxy `LlmActivities` and `ToolActivities`
 * (two types: they may run on different task queues); tests and workers build them with the
 * dependencies they want instead of monkey-patching.
 */
import { type createLlmActivities, type LlmDeps } from './llm';
import { type createToolActivities, type ToolDeps } from './tools';

export type { LlmCallInput, LlmCallResult, LlmDeps } from './llm';
export type { ToolDeps, ToolResult } from './tools';
export { createLlmActivities } from './llm';
export { createToolActivities } from './tools';

/** Dependencies of every activity. */
export type ActivityDeps = LlmDeps & ToolDeps;

/** The LLM activities (on the LLM task queue: the run's own unless routed to dedicated LLM workers). */
export type LlmActivities = ReturnType<typeof createLlmActivities>;
/** The tool activities (on the tool task queue: the run's own unless routed to dedicated tool workers). */
export type ToolActivities = ReturnType<typeof createToolActivities>;
export type { AgentBlock, AgentMessage, AgentTextBlock, AgentToolDefinition, AgentToolResultBlock, AgentToolUseBlock, AgentTurnInput, AgentTurnResult } from './llm';
export type { AgentToolInput, AgentToolOutput } from './tool-registry';
export type { ToolCallContext, ToolSource, UserTool } from './tool-source';
export { ToolRegistry } from './tool-registry';
