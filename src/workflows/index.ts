/** Workflow types of this project. Only workflow functions are exported here (a worker registers every exported function); their queries, signals and updates are in src/protocol.ts. */
export { fanOut } from './fan-out';
export { runDag } from './run-dag';
export { decomposeAndSynthesize } from './decompose';
export { pipeline } from './pipeline';
export { competitiveIntel } from './competitive-intel';
export { llmLimiter } from './llm-limiter';
export { agent } from './agent';
