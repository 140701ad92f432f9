/**
 * Token streaming's pure bookkeeping, shared by the three sides of the channel:
 * - what an LLM activity publishes (a {@link StreamChunk}, sent as the `streamChunk` signal to the run's workflow),
 * - the bounded event log the workflow keeps of them ({@link StreamLog}, read by the `stream` query),
 * - what a subscriber folds the events into ({@link StreamText}: each call's text, cleared when a retry restarts it).
 * Deterministic and free of I/O: the log runs inside the workflow sandbox.
 */

/** One batch of a call's streamed text, as its activity publishes it. */
export interface StreamChunk {
  /** The call (a DAG node's or fan-out task's id). */
  callId: string;
  /** The activity attempt that produced the text (1 = first). */
  attempt: number;
  /** 0, 1, 2, … within one attempt. */
  seq: number;
  text: string;
  /** The call's text is complete (the activity is about to return it). */
  done?: boolean;
}

/** A chunk as the log keeps it, at its offset. */
export interface StreamChunkEvent {
  offset: number;
  callId: string;
  attempt: number;
  seq: number;
  text: string;
  done?: true;
}

/** A retry restarted a call: subscribers clear its text before the new attempt's chunks. */
export interface StreamResetEvent {
  offset: number;
  callId: string;
  attempt: number;
  reset: true;
}

/** What the `stream` query returns events of. */
export type StreamEvent = StreamChunkEvent | StreamResetEvent;

/** Argument of the `stream` query. */
export interface StreamRead {
  /** The offset to read from: the previous page's `next` (0 at first). */
  after: number;
  /** At most this many events (default and cap {@link STREAM_PAGE_MAX_EVENTS}). */
  limit?: number;
}

/** Chunks the log refused, by reason. */
export interface StreamIgnored {
  /** Not a chunk (a signal's payload failed validation). */
  malformed: number;
  /** Of an attempt older than one already seen for the call. */
  stale: number;
  /** A seq already seen for the call's attempt. */
  duplicate: number;
}

/** One page of the log. */
export interface StreamPage {
  events: StreamEvent[];
  /** Where the next read starts (`after` of the next query). */
  next: number;
  /** Events between `after` and the first event returned that the bounded log had already dropped. */
  dropped: number;
  /** More events are already there: read again without waiting. */
  more: boolean;
  /** Events the log dropped in all (oldest first, to stay within its bounds). */
  droppedTotal: number;
  ignored: StreamIgnored;
}

/** The log's bounds: beyond either, the oldest events are dropped (and counted). */
export interface StreamLogLimits {
  maxEvents?: number;
  /** Characters of text kept, summed over events. */
  maxChars?: number;
}

export const STREAM_MAX_EVENTS = 5_000;
export const STREAM_MAX_CHARS = 1_000_000;
/** Longest text one chunk may carry (longer answers are published in several chunks). */
export const STREAM_MAX_CHUNK_CHARS = 64_000;
export const STREAM_PAGE_MAX_EVENTS = 1_000;
/** A page stops adding events once it holds this much text (it always holds at least one event). */
export const STREAM_PAGE_MAX_CHARS = 256_000;

const isWhole = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** The chunk a signal carried, or undefined when its payload is not one (extra fields are dropped). */
export function parseStreamChunk(raw: unknown): StreamChunk | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.callId !== 'string' || r.callId.length === 0 || r.callId.length > 256) return undefined;
  if (!isWhole(r.attempt, 1) || !isWhole(r.seq, 0)) return undefined;
  if (typeof r.text !== 'string' || r.text.length > STREAM_MAX_CHUNK_CHARS) return undefined;
  if (r.done !== undefined && typeof r.done !== 'boolean') return undefined;
  return { callId: r.callId, attempt: r.attempt, seq: r.seq, text: r.text, ...(r.done ? { done: true } : {}) };
}

/** The text size of an event (what the log's character bound counts). */
const charsOf = (e: StreamEvent): number => ('text' in e ? e.text.length : 0);

/**
 * The run's stream: an append-only, bounded log of events, one stream per call. A chunk of a higher
 * attempt than the call's last first appends a reset; chunks of an older attempt, or a seq already
 * seen, are ignored; malformed payloads are ignored and counted. `add` never throws.
 */
export class StreamLog {
  private readonly events: StreamEvent[] = [];
  /** Offset of events[0]. */
  private first = 0;
  private chars = 0;
  private readonly calls = new Map<string, { attempt: number; lastSeq: number }>();
  private droppedTotal = 0;
  readonly ignored: StreamIgnored = { malformed: 0, stale: 0, duplicate: 0 };
  private readonly maxEvents: number;
  private readonly maxChars: number;

  constructor(limits: StreamLogLimits = {}) {
    this.maxEvents = Math.max(1, limits.maxEvents ?? STREAM_MAX_EVENTS);
    this.maxChars = Math.max(0, limits.maxChars ?? STREAM_MAX_CHARS);
  }

  /** Offset the next event will get. */
  get next(): number {
    return this.first + this.events.length;
  }

  /** Takes a signal's payload; returns whether it was appended. */
  add(raw: unknown): boolean {
    const c = parseStreamChunk(raw);
    if (!c) {
      this.ignored.malformed++;
      return false;
    }
    const call = this.calls.get(c.callId);
    if (call && c.attempt < call.attempt) {
      this.ignored.stale++;
      return false;
    }
    if (call && c.attempt === call.attempt && c.seq <= call.lastSeq) {
      this.ignored.duplicate++;
      return false;
    }
    if (call && c.attempt > call.attempt) this.push({ offset: this.next, callId: c.callId, attempt: c.attempt, reset: true });
    this.calls.set(c.callId, { attempt: c.attempt, lastSeq: c.seq });
    this.push({ offset: this.next, callId: c.callId, attempt: c.attempt, seq: c.seq, text: c.text, ...(c.done ? { done: true as const } : {}) });
    return true;
  }

  /** The events from `after` on, one page at a time (an `after` past the end reads from the end). */
  read(req: Partial<StreamRead> | undefined): StreamPage {
    const after = isWhole(req?.after, 0) ? req.after : 0;
    const limit = Math.min(isWhole(req?.limit, 1) ? req.limit : STREAM_PAGE_MAX_EVENTS, STREAM_PAGE_MAX_EVENTS);
    const from = Math.min(Math.max(after, this.first), this.next);
    const events: StreamEvent[] = [];
    let chars = 0;
    for (let i = from - this.first; i < this.events.length && events.length < limit; i++) {
      const e = this.events[i];
      if (events.length > 0 && chars + charsOf(e) > STREAM_PAGE_MAX_CHARS) break;
      events.push(e);
      chars += charsOf(e);
    }
    const next = from + events.length;
    return { events, next, dropped: Math.max(0, this.first - after), more: next < this.next, droppedTotal: this.droppedTotal, ignored: { ...this.ignored } };
  }

  private push(e: StreamEvent): void {
    this.events.push(e);
    this.chars += charsOf(e);
    // Drop the oldest beyond either bound, but always keep the newest event.
    let drop = 0;
    while (this.events.length - drop > 1 && (this.events.length - drop > this.maxEvents || this.chars > this.maxChars)) {
      this.chars -= charsOf(this.events[drop]);
      drop++;
    }
    if (drop > 0) {
      this.events.splice(0, drop);
      this.first += drop;
      this.droppedTotal += drop;
    }
  }
}

/** One call's text as a subscriber sees it. */
export interface CallText {
  callId: string;
  /** The attempt the text is from. */
  attempt: number;
  text: string;
  /** The text is complete. */
  done: boolean;
  /** Times a retry restarted the text. */
  resets: number;
  /** Chunks known to be missing (dropped by the bounded log before this subscriber read them): the text has holes. */
  missing: number;
}

/** Folds stream events into each call's text: a reset (or a chunk of a newer attempt) clears it, stale and duplicate chunks are ignored. */
export class StreamText {
  readonly calls = new Map<string, CallText>();
  private readonly nextSeq = new Map<string, number>();

  /** Applies one event; returns the call's text when it changed. */
  apply(e: StreamEvent): CallText | undefined {
    let c = this.calls.get(e.callId);
    if (c && e.attempt < c.attempt) return undefined;
    if (!c || e.attempt > c.attempt) {
      const restarted = c !== undefined && (c.text !== '' || 'reset' in e);
      c = { callId: e.callId, attempt: e.attempt, text: '', done: false, resets: (c?.resets ?? 0) + (restarted ? 1 : 0), missing: 0 };
      this.calls.set(e.callId, c);
      this.nextSeq.set(e.callId, 0);
    } else if ('reset' in e) {
      return undefined; // already on this attempt
    }
    if ('reset' in e) return c;
    const expected = this.nextSeq.get(e.callId) ?? 0;
    if (e.seq < expected) return undefined;
    if (e.seq > expected) c.missing += e.seq - expected;
    c.text += e.text;
    if (e.done) c.done = true;
    this.nextSeq.set(e.callId, e.seq + 1);
    return c;
  }

  /** Each call's text so far. */
  texts(): Record<string, string> {
    return Object.fromEntries([...this.calls].map(([id, c]) => [id, c.text]));
  }
}
