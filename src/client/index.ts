/**
 * `<pkg>/client`: start this package's workflows from your own code, typed end to end. Each
 * starter takes the workflow's typed input (still validated inside the workflow, with the same
 * messages) and returns a typed handle; the result types are the workflows' own.
 *
 *   const handle = await startFanOut(client, { tasks: [{ prompt: 'Hello' }] }, { taskQueue: 'my-queue' });
 *   const result = await handle.result(); // FanOutResult
 */
import type { Client, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId, WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { RUN_WORKFLOW_TYPES as T, llmTaskQueue, toolTaskQueue } from '../core/names';
import type { Progress } from '../core/progress';
import { progressQuery } from '../protocol';
// Types only: the starters name their workflow, so a client process loads no workflow code.
import type { competitiveIntel, decomposeAndSynthesize, fanOut, pipeline, runDag } from '../workflows';
import { workflowId, workflowTypeOf } from './ids';

export { buildDataConverter } from '../data/data-converter';
export { limiterTaskQueue, limiterWorkflowId, llmTaskQueue, toolTaskQueue } from '../core/names';
export { limiterStatusQuery, progressQuery, streamChunkSignal, streamQuery } from '../protocol';
export { workflowId } from './ids';
export { followText, subscribeStream, type SubscribeOptions } from './stream';
export { StreamText, type CallText, type StreamChunk, type StreamEvent, type StreamPage, type StreamRead } from '../core/stream';
export type { FanOutResult } from '../workflows/fan-out';
export type { DagResult } from '../workflows/run-dag';
export type { PipelineResult } from '../workflows/pipeline';
export type { DecomposeResult } from '../workflows/decompose';
export type { IntelResult } from '../workflows/competitive-intel';
export type { FanOutParams, RunStats, TaskResult, TaskState } from '../core/tasks';
export type { DagParams } from '../core/dag';
export type { PipelineParams } from '../core/pipeline';
export type { DecomposeParams } from '../core/decompose';
export type { IntelParams } from '../core/intel';
export type { Progress } from '../core/progress';
export type { LimiterStatus } from '../core/limiter';

/** Where a run's LLM and tool calls go. */
export interface Routing {
  llmTaskQueue?: string;
  toolTaskQueue?: string;
}

/**
 * The routing of `npm run worker`'s layout: LLM calls on `<queue>-llm` and tool calls on
 * `<queue>-tools`, served by dedicated workers (scale LLM workers apart from workflow workers).
 * Without routing a run's calls stay on its own task queue (one worker with AgentsPlugin).
 */
export function splitQueues(taskQueue: string): Required<Routing> {
  return { llmTaskQueue: llmTaskQueue(taskQueue), toolTaskQueue: toolTaskQueue(taskQueue) };
}

/** How to start a run: the task queue of its workflow worker, and optionally an id and routing. */
export type RunStartOptions = Omit<WorkflowStartOptions, 'args' | 'workflowId'> & {
  /** Default: `<workflow>-<date>-<random>`. */
  workflowId?: string;
  /** Send LLM and tool calls to dedicated queues (see splitQueues). */
  routing?: Routing;
};

/**
 * Starts one of the package's run workflows, by reference or by its type name (then give the
 * type: `startRun<typeof fanOut>(client, 'fanOut', …)`), with its typed input.
 */
export async function startRun<W extends Workflow>(
  client: Client,
  workflow: W | string,
  input: Parameters<W>[0],
  options: RunStartOptions,
): Promise<WorkflowHandleWithFirstExecutionRunId<W>> {
  const { routing, workflowId: id, ...rest } = options;
  const args = [{ ...(input as object), ...(routing ?? {}) }] as Parameters<W>;
  return client.workflow.start<W>(workflow, { ...rest, workflowId: id ?? workflowId(workflowTypeOf(workflow)), args } as unknown as WorkflowStartOptions<W>);
}

/** Starts `fanOut`: many independent LLM tasks in parallel, bounded, results in input order. */
export const startFanOut = (client: Client, input: Parameters<typeof fanOut>[0], options: RunStartOptions) => startRun<typeof fanOut>(client, T.fanOut, input, options);
/** Starts `runDag`: nodes with dependencies, each started the moment its dependencies succeed. */
export const startDag = (client: Client, input: Parameters<typeof runDag>[0], options: RunStartOptions) => startRun<typeof runDag>(client, T.runDag, input, options);
/** Starts `pipeline`: stages, each over the previous stage's outputs. */
export const startPipeline = (client: Client, input: Parameters<typeof pipeline>[0], options: RunStartOptions) => startRun<typeof pipeline>(client, T.pipeline, input, options);
/** Starts `decomposeAndSynthesize`: one call splits the task, subtasks in parallel, one call combines them. */
export const startDecompose = (client: Client, input: Parameters<typeof decomposeAndSynthesize>[0], options: RunStartOptions) =>
  startRun<typeof decomposeAndSynthesize>(client, T.decomposeAndSynthesize, input, options);
/** Starts `competitiveIntel`: research, analysis per company, comparative summary, report. */
export const startIntel = (client: Client, input: Parameters<typeof competitiveIntel>[0], options: RunStartOptions) =>
  startRun<typeof competitiveIntel>(client, T.competitiveIntel, input, options);

/** A running run's live progress (the `progress` query every run workflow answers). */
export function getProgress(handle: WorkflowHandle): Promise<Progress> {
  return handle.query(progressQuery);
}
