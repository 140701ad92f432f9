/**
 * Subscribing to a run's token stream (runs started with `stream: true`): poll the workflow's
 * `stream` query from an offset — queries add nothing to the run's history — until the workflow
 * closes, then drain what is left. `followText` folds the events into each call's text.
 *
 *   const texts = await followText(handle, (call) => console.log(call.callId, call.text.length));
 */
import type { WorkflowHandle } from '@temporalio/client';
import { StreamText, type CallText, type StreamEvent, type StreamPage } from '../core/stream';
import { streamQuery } from '../protocol';

/** How to subscribe. */
export interface SubscribeOptions {
  /** Wait between polls when nothing new is there (default 250 ms). */
  intervalMs?: number;
  /** Stops the subscription (the iterator ends). */
  signal?: AbortSignal;
  /** The offset to start from (a previous page's `next`; default 0: everything still in the log). */
  after?: number;
  /** Each page as it is read (counts of dropped and ignored chunks). */
  onPage?: (page: StreamPage) => void;
}

/** A query that does not answer in this time is given up (and tried again at the next poll). */
const QUERY_DEADLINE_MS = 5_000;

/** The run's stream events, in order, as they arrive; ends once the workflow has closed and the log is drained (or on `signal`). */
export async function* subscribeStream(handle: WorkflowHandle, o: SubscribeOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
  const interval = o.intervalMs ?? 250;
  const client = handle.client;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (o.signal?.aborted) return;
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let closed = false;
  // The result's long poll says when the workflow closes; it is cancelled when the iterator ends.
  const closing = client
    .withAbortSignal(stop.signal, () => handle.result())
    .then(
      () => (closed = true),
      () => (closed = true),
    );
  const stopped = new Promise((r) => stop.signal.addEventListener('abort', r, { once: true }));
  let after = o.after ?? 0;
  try {
    for (;;) {
      if (stop.signal.aborted) return;
      // Captured before the query: a page read after the close holds every event there will be.
      const wasClosed = closed;
      let page: StreamPage | undefined;
      try {
        // A deadline, not the stop signal: the SDK keeps one listener per call on a signal it is given.
        page = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(streamQuery, { after }));
      } catch {
        // Not started yet, a worker restarting, or a closed run no worker can answer for: try again (or end below).
      }
      if (page) {
        after = page.next;
        o.onPage?.(page);
        for (const e of page.events) yield e;
        if (page.more) continue;
      }
      if (wasClosed) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closing, stopped, new Promise((r) => (timer = setTimeout(r, interval)))]);
      clearTimeout(timer);
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
}

/**
 * Follows each call's text until the run closes: `onUpdate` gets a copy of the call's text after
 * every change (a reset on retry clears it). Resolves with every call's final text.
 */
export async function followText(handle: WorkflowHandle, onUpdate: (call: CallText, event: StreamEvent) => void, o: SubscribeOptions = {}): Promise<Map<string, CallText>> {
  const texts = new StreamText();
  for await (const e of subscribeStream(handle, o)) {
    const c = texts.apply(e);
    if (c) onUpdate({ ...c }, e);
  }
  return texts.calls;
}
