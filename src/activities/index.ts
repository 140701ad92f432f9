/**
 * The activity factory: workflows proxy `ReturnType<typeof createActivities>`; tests and the
 * worker build it with the dependencies they want instead of monkey-patching.
 */
import { createLlmActivities, type LlmDeps } from './llm';

export type { LlmCallInput, LlmCallResult } from './llm';

/** Dependencies of every activity. */
export type ActivityDeps = LlmDeps;

/** Builds all activities. */
export function createActivities(deps: ActivityDeps) {
  return { ...createLlmActivities(deps) };
}

/** The activity interface workflows proxy. */
export type Activities = ReturnType<typeof createActivities>;
