/** How the building blocks schedule their activities (defaults: the values the package ships). */
import type { LlmCallPolicy } from './llm-task';
import type { ToolCallPolicy } from './tool-task';

export type { LlmCallPolicy, ToolCallPolicy };

/** Activity scheduling of a run: LLM calls and tool calls. */
export interface CallPolicy {
  llm?: LlmCallPolicy;
  tool?: ToolCallPolicy;
}
