/**
 * Every query, signal and update of this package's workflows, in one module that workflows,
 * activities and clients all import: the activity side never imports a workflow module.
 * Definitions only (names and types); no handlers, no I/O.
 */
import type { QueryDefinition, SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { Progress } from './core/progress';
import type { AcquireBatchRequest, AcquireBatchResponse, AcquireRequest, AcquireResponse, HeldReport, LeaseGrant, LimiterStatus, SettleRequest } from './core/limiter';
import type { LeaseRequest } from './core/lease';
import type { StreamChunk, StreamPage, StreamRead } from './core/stream';

// The objects the SDK's defineQuery, defineSignal and defineUpdate return (a type and a name),
// built here so that clients and activity workers, which import this module, do not load
// @temporalio/workflow for them (7 ms of every CLI command's start-up).
/* eslint-disable @typescript-eslint/no-explicit-any -- the SDK's definition types take any arguments */
function defineQuery<Ret, Args extends any[] = []>(name: string): QueryDefinition<Ret, Args> {
  return { type: 'query', name } as QueryDefinition<Ret, Args>;
}
function defineSignal<Args extends any[] = []>(name: string): SignalDefinition<Args> {
  return { type: 'signal', name } as SignalDefinition<Args>;
}
function defineUpdate<Ret, Args extends any[] = []>(name: string): UpdateDefinition<Ret, Args> {
  return { type: 'update', name } as UpdateDefinition<Ret, Args>;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Live progress of any of this package's run workflows (fanOut, runDag, pipeline, …). */
export const progressQuery = defineQuery<Progress>('progress');

// Token streaming (see src/core/stream.ts and src/workflows/lib/stream.ts).

/** A batch of one LLM call's text, published by its activity to the run's workflow while the reply arrives. */
export const streamChunkSignal = defineSignal<[StreamChunk]>('streamChunk');
/** The run's streamed events from an offset, a page at a time (subscribers poll it: queries add nothing to history). */
export const streamQuery = defineQuery<StreamPage, [StreamRead]>('stream');

// The `llmLimiter` workflow (see src/workflows/llm-limiter.ts).

/** Asks for permits for a worker's waiting calls, granted in order as far as they fit. */
export const acquirePermitsUpdate = defineUpdate<AcquireBatchResponse, [AcquireBatchRequest]>('acquirePermits');
/** Renews a worker process's lease on one model, reporting its usage since the last renewal. */
export const renewLeaseUpdate = defineUpdate<LeaseGrant, [LeaseRequest]>('renewLease');
/** Asks for one permit (the first protocol; kept so running limiters and recorded histories still work). */
export const acquirePermitUpdate = defineUpdate<AcquireResponse, [AcquireRequest]>('acquirePermit');
/** Reports how a permitted call ended. */
export const settlePermitSignal = defineSignal<[SettleRequest]>('settlePermit');
/** A worker process's account of the permits it holds (renews their leases, repairs lost settles). */
export const heldPermitsSignal = defineSignal<[HeldReport]>('heldPermits');
/** Current counters and adaptive limits. */
export const limiterStatusQuery = defineQuery<LimiterStatus>('limiterStatus');
