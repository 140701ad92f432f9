/**
 * A run's token stream channel, workflow side: the `streamChunk` signal appends to a bounded
 * in-memory log (src/core/stream.ts) and the `stream` query reads it from an offset. Nothing is
 * persisted beyond the signals themselves, so a replay rebuilds the same log. Workflow-side only.
 */
import { setHandler } from '@temporalio/workflow';
import { StreamLog, type StreamLogLimits } from '../../core/stream';
import { streamChunkSignal, streamQuery } from '../../protocol';

// Module state is per workflow execution (the SDK isolates workflow modules per run).
let channel: StreamLog | undefined;

/**
 * Opens this workflow's stream channel (idempotent): LLM calls of a run with `stream: true` publish
 * their text to it. Malformed or stale chunks are ignored and counted; the handler never throws.
 */
export function installStream(limits?: StreamLogLimits): StreamLog {
  if (channel) return channel;
  const log = new StreamLog(limits);
  setHandler(streamChunkSignal, (chunk: unknown) => {
    log.add(chunk);
  });
  setHandler(streamQuery, (req: unknown) => log.read(req && typeof req === 'object' ? req : undefined));
  channel = log;
  return log;
}

/** Whether this workflow has a stream channel (calls without an explicit target publish only then). */
export function streamInstalled(): boolean {
  return channel !== undefined;
}
