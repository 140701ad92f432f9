/** Workflow types of this project. Only workflow functions and their definitions are exported here. */
export { fanOut } from './fan-out';
export { runDag } from './run-dag';
export { decomposeAndSynthesize } from './decompose';
export { pipeline } from './pipeline';
export { competitiveIntel } from './competitive-intel';
export { progressQuery } from './defs';
export { llmLimiter, renewLeaseUpdate, acquirePermitsUpdate, acquirePermitUpdate, heldPermitsSignal, settlePermitSignal, limiterStatusQuery } from './llm-limiter';
