/**
 * Names users see (task queues, workflow ids, activity summaries) live here, in one place.
 * Pure: imported by workflows, activities, client and tests alike.
 */

/**
 * The workflow types clients start by name: a client then loads no workflow code (the CLI starts
 * faster). test/unit/names.test.ts checks each against the exported workflow function's name.
 */
export const RUN_WORKFLOW_TYPES = {
  fanOut: 'fanOut',
  runDag: 'runDag',
  pipeline: 'pipeline',
  decomposeAndSynthesize: 'decomposeAndSynthesize',
  competitiveIntel: 'competitiveIntel',
} as const;

/** Default task queue for workflows; LLM and tool activities use derived queues. */
export const DEFAULT_TASK_QUEUE = 'agents';

/** Default model: a current one the Anthropic SDK knows and does not warn about. */
export const DEFAULT_MODEL = 'claude-sonnet-4-6';

/** The task queue of LLM activities for a given workflow task queue. */
export function llmTaskQueue(workflowTaskQueue: string): string {
  return `${workflowTaskQueue}-llm`;
}

/** The task queue of blocking / CPU-heavy tool activities for a given workflow task queue. */
export function toolTaskQueue(workflowTaskQueue: string): string {
  return `${workflowTaskQueue}-tools`;
}

/** The task queue of the `llmLimiter` workflow (admission control) for a given workflow task queue. */
export function limiterTaskQueue(workflowTaskQueue: string): string {
  return `${workflowTaskQueue}-limiter`;
}

/** The limiter workflow's id for a task queue. */
export function limiterWorkflowId(taskQueue: string): string {
  return `llm-limiter-${taskQueue}`;
}

/** Activity summaries must be a single line; keep them short for the Web UI. */
export function activitySummary(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}
