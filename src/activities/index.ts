/**
 * The activity factory: workflows proxy `ReturnType<typeof createActivities>`; tests and the
 * worker build it with the dependencies they want instead of monkey-patching.
 */
import { createLlmActivities, type LlmDeps } from './llm';
import { createToolActivities, type ToolDeps } from './tools';

export type { LlmCallInput, LlmCallResult } from './llm';
export { createLlmActivities } from './llm';
export { createToolActivities } from './tools';

/** Dependencies of every activity. */
export type ActivityDeps = LlmDeps & ToolDeps;

/** Builds all activities. */
export function createActivities(deps: ActivityDeps) {
  return { ...createLlmActivities(deps), ...createToolActivities(deps) };
}

/** The activity interface workflows proxy. */
export type Activities = ReturnType<typeof createActivities>;
