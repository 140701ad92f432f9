/**
 * `<pkg>/worker`: AgentsPlugin for your own worker, and the worker factory `npm run worker` uses
 * (workflows on the main queue; LLM and tool activities on `<queue>-llm` / `<queue>-tools`).
 */
export { AgentsPlugin, type AgentsActivities, type AgentsPluginOptions } from './plugin';
export { WORKFLOWS_PATH, createWorkers, setQueueRateLimit, type WorkerRole, type WorkersOptions } from './create-workers';
export { buildActivityDeps, type BuiltDeps, type DepsPlacement } from './deps';
export { loadConfig, type Config } from '../config';
