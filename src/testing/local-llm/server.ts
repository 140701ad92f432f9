/**
 * A local stand-in for the Anthropic Messages API (`POST /v1/messages`), used by every test, bench
 * and the demo because there is no internet here. It speaks the real wire format closely enough
 * that the real `@anthropic-ai/sdk` works against it unmodified, answers deterministically, models
 * latency cheaply (one timer per request) and can inject the failures a durable executor must survive.
 * What kind of answer a request gets depends on its fields (tools, tool_choice, tool_result blocks,
 * max_tokens, stream), never on the wording of a prompt — except which of the offered tools an unforced
 * tool turn calls (those whose name or description shares a key word with the last user text). This module is the HTTP server and its routing; see messages.ts for
 * the replies, faults.ts, rate-limits.ts and admin.ts for the rest.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleAdmin } from './admin';
import { FaultRules, MALFORMED_BODY, retryAfterHeaders, type Fault, type FaultRule } from './faults';
import { HttpError, defaultErrorType, readBody, requestId, sendError, sendJson, stripUndefined } from './http';
import { DEFAULT_LATENCY, buildMessage, lastUserLoose, parseMessagesBody, validateLatency, type LatencyOptions, type ParsedRequest } from './messages';
import { LocalRateLimiter, rateLimitMessage, type RateLimits } from './rate-limits';
import { formatSse, messageEvents } from './stream';
import { RECORD_TEXT_LIMIT, countMatching, countPrompt, newGeneration, snapshot, type Generation, type LlmStats, type RequestRecord } from './stats';

/** Options for {@link startLocalLlmServer}. */
export interface LocalLlmServerOptions extends Partial<LatencyOptions> {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Seed of the PRNG behind `FaultRule.probability` (default 42). */
  seed?: number;
  faults?: FaultRule[];
  /** The API's rate limits (token buckets per key and model, headers on every answer); none by default. */
  rateLimits?: RateLimits;
}

/** A running local LLM server plus its in-process control surface (mirrored by the `/_admin` endpoints). */
export interface LocalLlmServer {
  /** E.g. http://127.0.0.1:54321, without /v1 because the SDK appends /v1/messages itself. */
  url: string;
  port: number;
  /** Replaces the fault rules (and restarts their `times` counters and the probability PRNG). */
  setFaults(rules: FaultRule[]): void;
  /** Replaces the rate limits (fresh, full buckets); `undefined` turns them off. */
  setRateLimits(limits: RateLimits | undefined): void;
  /** Changes the latency of requests received from now on. */
  setLatency(l: Partial<LatencyOptions>): void;
  /** The current latency settings. */
  getLatency(): LatencyOptions;
  /** A snapshot of the counters (records are copies). */
  stats(): LlmStats;
  /** Requests whose (full, untruncated) prompt or system prompt contains `substring`. */
  countMatching(substring: string): number;
  /** Clears stats and faults and restores the latency given at start. */
  reset(): void;
  /** Stops listening and ends every open connection, hanging requests included. */
  close(): Promise<void>;
}

/** Bookkeeping for one request, alive from arrival until its response is closed. */
interface Ctx {
  rec: RequestRecord;
  /** The stats generation this request was counted in, so a reset mid-flight does not leak into new stats. */
  gen: Generation;
  timer?: NodeJS.Timeout;
}

/**
 * Starts the local Anthropic-compatible server and resolves once it is listening.
 *
 * - `POST /v1/messages`: the Messages API with real validation, auth and error shapes; `stream: true`
 *   answers with the real server-sent event sequence (stream.ts), the first delta after ttftMs and
 *   the rest spread over perTokenMs × output tokens.
 *   The reply is `Answer to "<first 60 chars of the last user message>": ` followed by
 *   min(outputTokens, max_tokens) PRNG words seeded by hash(system + prompt) (stop_reason
 *   max_tokens when capped); the prefix is not counted as tokens. A request that forces a tool
 *   (`tool_choice: { type: 'tool', name }`, or `{ type: 'any' }`: the first tool) gets, like
 *   the real API, one `tool_use` block whose `input` is generated from the tool's `input_schema`
 *   (see tool-input.ts) and stop_reason `tool_use`; that input is never truncated, though it costs
 *   the same latency and output tokens. Unforced tools (tool_choice absent or `auto`) get a tool
 *   turn: one `tool_use` per tool related to the last user text (at most 3, else the first tool),
 *   deterministic ids and inputs; a last user message with `tool_result`s gets end_turn text quoting them.
 * - `/_admin/{stats,faults,latency,rate-limits,reset,health}`: the same control surface over HTTP,
 *   for when the server runs in its own process.
 */
export function startLocalLlmServer(opts: LocalLlmServerOptions = {}): Promise<LocalLlmServer> {
  let configuredLatency: LatencyOptions;
  try {
    configuredLatency = { ...DEFAULT_LATENCY, ...validateLatency(stripUndefined(opts)) };
  } catch (err) {
    // Callers await this; a bad option should reject, not throw synchronously.
    return Promise.reject(err);
  }
  let latency: LatencyOptions = { ...configuredLatency };
  const faults = new FaultRules(opts.seed ?? 42);
  let gen = newGeneration();
  const active = new Set<Ctx>();
  let nextId = 1;

  const setFaults = (input: FaultRule[]): void => faults.set(input);
  let rateLimiter = opts.rateLimits ? new LocalRateLimiter(opts.rateLimits) : undefined;
  const setRateLimits = (l: RateLimits | undefined): void => {
    rateLimiter = l ? new LocalRateLimiter(l) : undefined;
  };
  const setLatency = (l: Partial<LatencyOptions>): void => {
    latency = { ...latency, ...validateLatency(stripUndefined(l)) };
  };
  const reset = (): void => {
    rateLimiter = opts.rateLimits ? new LocalRateLimiter(opts.rateLimits) : undefined;
    gen = newGeneration();
    gen.maxInFlight = active.size;
    faults.set([]);
    latency = { ...configuredLatency };
  };
  const stats = (): LlmStats => snapshot(gen, active.size);

  const handleMessages = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const g = gen;
    const rec: RequestRecord = {
      id: nextId++,
      prompt: '',
      model: '',
      maxTokens: 0,
      receivedAt: Date.now(),
      outcome: 'ok',
      aborted: false,
      inputTokens: 0,
      outputTokens: 0,
    };
    const ctx: Ctx = { rec, gen: g };
    g.calls++;
    g.requests.push(rec);
    active.add(ctx);
    if (active.size > g.maxInFlight) g.maxInFlight = active.size;
    // 'close' fires both after a completed response and when the connection dies first; only the
    // latter leaves writableFinished false, which is how client aborts (and hangs) are detected.
    res.on('close', () => {
      active.delete(ctx);
      if (ctx.timer) clearTimeout(ctx.timer);
      if (rec.finishedAt === undefined) rec.finishedAt = Date.now();
      if (!res.writableFinished && rec.outcome !== 'drop') rec.aborted = true;
    });
    const fail = (status: number, message: string, errorType?: string, headers: Record<string, string> = {}): void => {
      rec.outcome = 'status';
      rec.status = status;
      rec.finishedAt = Date.now();
      sendError(res, status, message, errorType ?? defaultErrorType(status), { 'request-id': requestId(rec.id), ...headers });
    };

    let raw: string;
    try {
      raw = await readBody(req);
    } catch (err) {
      countPrompt(g, '');
      g.fullTexts.push({ prompt: '', system: '' });
      if (err instanceof HttpError) fail(err.status, err.message, err.errorType);
      return;
    }

    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    // Record what we can before validating, so even rejected requests show up in perPrompt/countMatching.
    let parsed: ParsedRequest | undefined;
    let error: HttpError | undefined;
    try {
      if (body === undefined) throw new HttpError(400, 'There was an error parsing the body: invalid JSON');
      parsed = parseMessagesBody(body);
    } catch (err) {
      error = err instanceof HttpError ? err : new HttpError(400, String(err));
    }
    countPrompt(g, parsed?.lastUser ?? lastUserLoose(body));
    if (parsed) {
      rec.prompt = parsed.prompt.slice(0, RECORD_TEXT_LIMIT);
      if (parsed.hasSystem) rec.system = parsed.system.slice(0, RECORD_TEXT_LIMIT);
      rec.model = parsed.model;
      rec.maxTokens = parsed.maxTokens;
      if (parsed.forcedTool) rec.tool = parsed.forcedTool.name;
      if (parsed.stream) rec.stream = true;
      // Tool definitions and tool blocks count too, except for a forced call (structured output), whose
      // count stays system + prompt as the executor's own estimate (src/llm/admission.ts) assumes.
      rec.inputTokens = Math.ceil((parsed.system.length + parsed.prompt.length + (parsed.forcedTool ? 0 : parsed.toolChars)) / 4);
    }
    g.fullTexts.push({ prompt: parsed?.prompt ?? '', system: parsed?.system ?? '' });

    // Auth is checked after reading the body so the connection stays reusable (an unread body forces a close).
    const apiKey = req.headers['x-api-key'];
    const authz = req.headers.authorization;
    if (!apiKey && !(typeof authz === 'string' && /^Bearer\s+\S/.test(authz))) {
      fail(401, 'x-api-key header is required');
      return;
    }
    if (error || !parsed) {
      fail(error?.status ?? 400, error?.message ?? 'invalid request', error?.errorType);
      return;
    }

    // The rate limits come first, as at the real API's edge: a request that does not fit is refused.
    let admitted: ReturnType<LocalRateLimiter['admit']> | undefined;
    if (rateLimiter) {
      admitted = rateLimiter.admit(String(apiKey ?? authz), parsed.model, { input: rec.inputTokens, maxOutput: parsed.maxTokens });
      if (!admitted.ok) {
        fail(429, rateLimitMessage(admitted.bucket, admitted.limit), 'rate_limit_error', admitted.headers);
        return;
      }
    }
    const rateHeaders = admitted?.headers ?? {};
    const fault: Fault | undefined = faults.pick(parsed.prompt, parsed.system);
    let lat = latency;
    let fixedText: string | undefined;
    let dropAfter: number | undefined;
    if (fault) {
      switch (fault.kind) {
        case 'status': {
          if (admitted?.ok) admitted.finish(0);
          fail(fault.status, fault.message ?? `injected ${fault.status} fault`, fault.errorType, { ...rateHeaders, ...retryAfterHeaders(fault) });
          return;
        }
        case 'hang':
          rec.outcome = 'hang';
          return;
        case 'stream-drop':
        case 'drop':
          // A stream-drop on a streamed request drops mid-stream (below); otherwise the connection dies now.
          if (fault.kind === 'stream-drop' && parsed.stream) {
            dropAfter = fault.afterChunks;
            break;
          }
          rec.outcome = 'drop';
          rec.finishedAt = Date.now();
          req.socket.destroy();
          return;
        case 'malformed': {
          rec.outcome = 'malformed';
          rec.status = 200;
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(MALFORMED_BODY), 'request-id': requestId(rec.id) });
          res.end(MALFORMED_BODY);
          rec.finishedAt = Date.now();
          return;
        }
        case 'latency':
          lat = { ...latency, ...stripUndefined({ ttftMs: fault.ttftMs, perTokenMs: fault.perTokenMs, outputTokens: fault.outputTokens }) };
          break;
        case 'text':
          fixedText = fault.text;
          break;
        case 'overload':
          // This request is already counted in `active`.
          if (active.size > fault.maxConcurrent) {
            fail(429, `overloaded: more than ${fault.maxConcurrent} concurrent requests`, 'rate_limit_error', retryAfterHeaders(fault));
            return;
          }
          break;
      }
    }

    const p = parsed;
    const words = Math.min(lat.outputTokens, p.maxTokens);
    const capped = lat.outputTokens > p.maxTokens;
    const respond = (): void => {
      ctx.timer = undefined;
      if (res.destroyed) return;
      const suffix = rec.id.toString(36).padStart(8, '0');
      const message = buildMessage(
        p,
        { words, capped, ...(fixedText !== undefined ? { fixedText } : {}) },
        { message: `msg_local_${suffix}`, toolUse: `toolu_local_${suffix}` },
        rec.inputTokens,
      );
      const toolCalls = p.forcedTool ? [] : message.content.flatMap((b) => (b.type === 'tool_use' ? [b.name] : []));
      if (toolCalls.length > 0) rec.toolCalls = toolCalls;
      const delivered = (): void => {
        rec.outputTokens = words;
        rec.status = 200;
        rec.finishedAt = Date.now();
        g.inputTokens += rec.inputTokens;
        g.outputTokens += words;
      };
      if (!p.stream) {
        delivered();
        sendJson(res, 200, message, { 'request-id': requestId(rec.id), ...rateHeaders });
        if (admitted?.ok) admitted.finish(words);
        return;
      }
      // Streaming: headers and message_start now, the first delta at ttft, the rest spread over the generation time.
      const events = messageEvents(message);
      const deltas = events.filter((e) => e.delta).length;
      const gap = deltas > 0 ? (lat.perTokenMs * words) / deltas : 0;
      rec.status = 200;
      rec.chunks = 0;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'request-id': requestId(rec.id),
        ...rateHeaders,
      });
      let next = 0;
      let sent = 0;
      /** The event whose wait was already served (so the timer's callback writes it). */
      let waited = -1;
      const pump = (): void => {
        ctx.timer = undefined;
        if (res.destroyed) return;
        while (next < events.length) {
          const e = events[next];
          if (e.delta) {
            if (dropAfter !== undefined && sent === dropAfter) {
              rec.outcome = 'drop';
              rec.finishedAt = Date.now();
              if (admitted?.ok) admitted.finish(0);
              // FIN after the written chunks (a reset could discard them unread); the chunked body never ends.
              res.socket?.end();
              return;
            }
            const wait = sent === 0 ? lat.ttftMs : gap;
            if (wait > 0 && waited !== next) {
              waited = next;
              ctx.timer = setTimeout(pump, wait);
              return;
            }
            rec.chunks = ++sent;
          }
          res.write(formatSse(e));
          next++;
        }
        delivered();
        res.end();
        if (admitted?.ok) admitted.finish(words);
      };
      pump();
    };
    // A streamed reply waits out its latency while streaming; a plain one before answering.
    const delay = p.stream ? 0 : lat.ttftMs + lat.perTokenMs * words;
    if (delay > 0) ctx.timer = setTimeout(respond, delay);
    else respond();
  };

  const admin = {
    stats,
    setFaults: (rules: unknown): number => {
      faults.set(rules as FaultRule[]);
      return faults.size;
    },
    setRateLimits,
    setLatency,
    getLatency: () => ({ ...latency }),
    reset,
  };

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let work: Promise<void>;
    if (path === '/v1/messages') {
      if (req.method === 'POST') work = handleMessages(req, res);
      else {
        req.resume();
        sendError(res, 405, `method ${req.method} not allowed on /v1/messages`, 'invalid_request_error');
        return;
      }
    } else if (path.startsWith('/_admin/')) {
      work = handleAdmin(req, res, path, admin);
    } else {
      req.resume();
      sendError(res, 404, `not found: ${req.method} ${path}`);
      return;
    }
    work.catch((err: unknown) => {
      // A bug here must not take the whole test run down with an unhandled rejection.
      if (!res.headersSent && !res.destroyed) sendError(res, 500, `local server error: ${String(err)}`);
    });
  });
  // Clients (undici) keep connections alive for ~4 s; a server timeout at least that long avoids the
  // race where we close an idle socket just as the client reuses it, which shows up as spurious ECONNRESETs.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Hanging requests are meant to hang: no server-side request timeout.
  server.requestTimeout = 0;

  return new Promise((resolve, reject) => {
    // Validated before listening (a throw in the executor rejects) rather than in the listen callback.
    if (opts.faults) setFaults(opts.faults);
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${host}:${addr.port}`,
        port: addr.port,
        setFaults,
        setRateLimits,
        setLatency,
        getLatency: () => ({ ...latency }),
        stats,
        countMatching: (substring: string) => countMatching(gen, substring),
        reset,
        close: () => {
          closing ??= new Promise<void>((res) => {
            server.close(() => res());
            // Pending timers and hangs would otherwise keep close() waiting (forever, for hangs).
            // Records are settled here because the responses' 'close' events may land after close() resolves.
            const now = Date.now();
            for (const ctx of active) {
              if (ctx.timer) clearTimeout(ctx.timer);
              ctx.rec.aborted = true;
              ctx.rec.finishedAt ??= now;
            }
            active.clear();
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
