/**
 * A local stand-in for the Anthropic Messages API (`POST /v1/messages`), used by every test, bench
 * and the demo because there is no internet here. It speaks the real wire format closely enough
 * that the real `@anthropic-ai/sdk` works against it unmodified, answers deterministically, models
 * latency cheaply (one timer per request) and can inject the failures a durable executor must survive.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalRateLimiter, rateLimitMessage, type RateLimits } from './local-rate-limits';

export type { RateLimits } from './local-rate-limits';

/** Simulated model latency: the reply arrives after `ttftMs + perTokenMs * outputTokens`. */
export interface LatencyOptions {
  /** Time to first token, in ms. */
  ttftMs: number;
  /** Generation time per output token, in ms. */
  perTokenMs: number;
  /** Output length (in words, counted as tokens) when max_tokens does not cap it. */
  outputTokens: number;
}

/** A failure (or slowdown) to inject into a request. */
export type Fault =
  | { kind: 'status'; status: number; errorType?: string; message?: string; retryAfterS?: number; retryAfterMs?: number }
  /** Accept the request and never answer (until the client aborts or the server closes). */
  | { kind: 'hang' }
  /** Destroy the socket without any response. */
  | { kind: 'drop' }
  /** 200 with content-type application/json and a body that is not valid JSON. */
  | { kind: 'malformed' }
  /** Answer normally, but with this latency / length. */
  | { kind: 'latency'; ttftMs?: number; perTokenMs?: number; outputTokens?: number }
  /** Answer normally but with exactly this text (e.g. prose where JSON was asked for). */
  | { kind: 'text'; text: string }
  /** A provider at capacity: 429 (with retry-after-ms / retry-after) whenever more than maxConcurrent requests would be in flight. */
  | { kind: 'overload'; maxConcurrent: number; retryAfterMs?: number; retryAfterS?: number };

/** When to inject a fault; rules are checked in order and the first applicable one wins. */
export interface FaultRule {
  /** Applies when the prompt (all user text joined) or the system prompt contains this; absent = every request. */
  match?: string;
  /** Apply only to the first K matching requests, then the rule is spent (default: unlimited). */
  times?: number;
  /** 0..1; drawn from a PRNG seeded with the server's `seed` so runs are reproducible. */
  probability?: number;
  fault: Fault;
}

/** What the server saw and did for one `POST /v1/messages`. */
export interface RequestRecord {
  id: number;
  /** The prompt text (user messages joined by "\n"), truncated to 500 chars to bound memory. */
  prompt: string;
  /** The system prompt, truncated to 500 chars. */
  system?: string;
  model: string;
  maxTokens: number;
  receivedAt: number;
  finishedAt?: number;
  outcome: 'ok' | 'status' | 'hang' | 'drop' | 'malformed';
  status?: number;
  /** True when the response was never delivered because the client went away (or the server closed). */
  aborted: boolean;
  inputTokens: number;
  outputTokens: number;
}

/** Counters since start or the last reset. */
export interface LlmStats {
  /** Every `POST /v1/messages` received, including invalid and faulted ones. */
  calls: number;
  inFlight: number;
  maxInFlight: number;
  /** Calls by the first 80 chars of the last user message ('' when the body could not be read). */
  perPrompt: Record<string, number>;
  requests: RequestRecord[];
  /** Summed over successfully delivered replies only. */
  tokens: { input: number; output: number };
}

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

/** Latency used when neither the options nor `setLatency` say otherwise (≈3 s per call). */
export const DEFAULT_LATENCY: LatencyOptions = { ttftMs: 1000, perTokenMs: 8, outputTokens: 250 };

/** The marker that switches the reply to a JSON decomposition, see {@link startLocalLlmServer}. */
export const JSON_MODE_MARKER = 'Respond with JSON only';

const DEFAULT_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/** The real API's `error.type` for an HTTP status (api_error for unknown 5xx, invalid_request_error otherwise). */
export function defaultErrorType(status: number): string {
  return DEFAULT_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

// The real API rejects bodies over 32 MB; mirroring that also bounds what one request can make us buffer.
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const RECORD_TEXT_LIMIT = 500;

const VOCABULARY = [
  'the', 'a', 'durable', 'agent', 'task', 'result', 'plan', 'step', 'data', 'model', 'answer', 'reason',
  'because', 'therefore', 'and', 'with', 'of', 'to', 'in', 'for', 'system', 'workflow', 'activity', 'retry',
  'state', 'signal', 'query', 'summary', 'analysis', 'detail', 'evidence', 'approach', 'clearly', 'quickly',
  'carefully', 'first', 'then', 'finally', 'each', 'every', 'parallel', 'sequence', 'output', 'input', 'value',
  'important', 'simple', 'robust', 'consider', 'suggests', 'shows', 'is', 'are', 'was', 'will', 'can', 'should',
  'report', 'section', 'idea', 'example', 'point', 'context', 'goal',
];

/** FNV-1a, 32 bit: a cheap, stable string hash to seed the reply PRNG. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: tiny seeded PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomWords(rand: () => number, count: number): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) out[i] = VOCABULARY[Math.floor(rand() * VOCABULARY.length)];
  return out;
}

function collapseWhitespace(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Text of a message `content` / `system` value: a string, or the text blocks of a block array. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const block of content) {
    if (block && typeof block === 'object' && (block as { type?: unknown }).type === 'text') {
      const text = (block as { text?: unknown }).text;
      if (typeof text === 'string') parts.push(text);
    }
  }
  return parts.join('\n');
}

function isNonNegativeNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/**
 * Checks a partial latency object (it may come from an untrusted admin request) and returns it typed.
 * Throws an Error with a readable message when a field is not a non-negative number.
 */
export function validateLatency(input: unknown): Partial<LatencyOptions> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new Error('latency must be an object');
  const out: Partial<LatencyOptions> = {};
  for (const key of ['ttftMs', 'perTokenMs', 'outputTokens'] as const) {
    const v = (input as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (!isNonNegativeNumber(v)) throw new Error(`${key} must be a non-negative number, got ${JSON.stringify(v)}`);
    if (key === 'outputTokens' && !Number.isInteger(v)) throw new Error(`outputTokens must be an integer, got ${v}`);
    out[key] = v;
  }
  return out;
}

/**
 * Checks a fault rule list (it may come from an untrusted admin request) and returns it typed.
 * Throws an Error naming the offending rule, so a typo in a test fails loudly instead of silently never firing.
 */
export function validateFaultRules(input: unknown): FaultRule[] {
  if (!Array.isArray(input)) throw new Error('fault rules must be an array');
  return input.map((raw, i) => {
    const where = `fault rule ${i}`;
    if (!raw || typeof raw !== 'object') throw new Error(`${where} must be an object`);
    const r = raw as Record<string, unknown>;
    if (r.match !== undefined && typeof r.match !== 'string') throw new Error(`${where}: match must be a string`);
    if (r.times !== undefined && !(isNonNegativeNumber(r.times) && Number.isInteger(r.times))) {
      throw new Error(`${where}: times must be a non-negative integer`);
    }
    if (r.probability !== undefined && !(isNonNegativeNumber(r.probability) && r.probability <= 1)) {
      throw new Error(`${where}: probability must be between 0 and 1`);
    }
    const f = r.fault as Record<string, unknown> | undefined;
    if (!f || typeof f !== 'object') throw new Error(`${where}: fault is required`);
    switch (f.kind) {
      case 'status':
        if (typeof f.status !== 'number' || !Number.isInteger(f.status) || f.status < 400 || f.status > 599) {
          throw new Error(`${where}: status must be an integer HTTP error status (400-599)`);
        }
        if (f.retryAfterS !== undefined && !isNonNegativeNumber(f.retryAfterS)) throw new Error(`${where}: retryAfterS must be a non-negative number`);
        if (f.retryAfterMs !== undefined && !isNonNegativeNumber(f.retryAfterMs)) throw new Error(`${where}: retryAfterMs must be a non-negative number`);
        break;
      case 'latency':
        validateLatency(f);
        break;
      case 'text':
        if (typeof f.text !== 'string') throw new Error(`${where}: text must be a string`);
        break;
      case 'overload':
        if (typeof f.maxConcurrent !== 'number' || f.maxConcurrent < 1) throw new Error(`${where}: maxConcurrent must be a number >= 1`);
        break;
      case 'hang':
      case 'drop':
      case 'malformed':
        break;
      default:
        throw new Error(`${where}: unknown fault kind ${JSON.stringify(f.kind)}`);
    }
    return raw as FaultRule;
  });
}

/** A fault rule plus how many times it has fired. */
interface ActiveRule {
  rule: FaultRule;
  used: number;
}

/** Bookkeeping for one request, alive from arrival until its response is closed. */
interface Ctx {
  rec: RequestRecord;
  /** The stats generation this request was counted in, so a reset mid-flight does not leak into new stats. */
  gen: Generation;
  timer?: NodeJS.Timeout;
}

/** The mutable part of the stats that `reset()` replaces wholesale. */
interface Generation {
  calls: number;
  maxInFlight: number;
  perPrompt: Map<string, number>;
  requests: RequestRecord[];
  /** Untruncated texts by request index, kept only for `countMatching`. */
  fullTexts: { prompt: string; system: string }[];
  inputTokens: number;
  outputTokens: number;
}

function newGeneration(): Generation {
  return { calls: 0, maxInFlight: 0, perPrompt: new Map(), requests: [], fullTexts: [], inputTokens: 0, outputTokens: 0 };
}

/** A parsed, validated `POST /v1/messages` body. */
interface ParsedRequest {
  model: string;
  maxTokens: number;
  prompt: string;
  system: string;
  hasSystem: boolean;
  lastUser: string;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly errorType = defaultErrorType(status)) {
    super(message);
  }
}

function parseMessagesBody(body: unknown): ParsedRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') throw new HttpError(400, 'model: Field required');
  if (b.max_tokens === undefined || b.max_tokens === null) throw new HttpError(400, 'max_tokens: Field required');
  if (typeof b.max_tokens !== 'number' || !Number.isInteger(b.max_tokens) || b.max_tokens <= 0) {
    throw new HttpError(400, 'max_tokens: Input should be a positive integer');
  }
  if (!Array.isArray(b.messages)) throw new HttpError(400, 'messages: Field required');
  if (b.messages.length === 0) throw new HttpError(400, 'messages: at least one message is required');
  const userTexts: string[] = [];
  let lastUser = '';
  for (let i = 0; i < b.messages.length; i++) {
    const m = b.messages[i] as Record<string, unknown> | null;
    if (!m || typeof m !== 'object') throw new HttpError(400, `messages.${i}: Input should be an object`);
    if (m.role !== 'user' && m.role !== 'assistant') throw new HttpError(400, `messages.${i}.role: Input should be 'user' or 'assistant'`);
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) throw new HttpError(400, `messages.${i}.content: Field required`);
    if (m.role === 'user') {
      lastUser = textOf(m.content);
      userTexts.push(lastUser);
    }
  }
  if (b.system !== undefined && typeof b.system !== 'string' && !Array.isArray(b.system)) {
    throw new HttpError(400, 'system: Input should be a string or a list of text blocks');
  }
  // Checked after the shape so that a malformed streaming request still gets the more specific error first.
  if (b.stream === true) throw new HttpError(400, 'streaming is not supported by the local server; send stream: false');
  return {
    model: b.model,
    maxTokens: b.max_tokens,
    prompt: userTexts.join('\n'),
    system: textOf(b.system),
    hasSystem: b.system !== undefined,
    lastUser,
  };
}

/**
 * The reply text for a request: deterministic in (system, prompt) so tests can compare runs,
 * and in JSON mode a decomposition the planner can parse.
 */
function buildReplyText(p: ParsedRequest, words: number): string {
  const rand = mulberry32(hashString(p.system + p.prompt));
  if (p.prompt.includes(JSON_MODE_MARKER) || p.system.includes(JSON_MODE_MARKER)) {
    const m = /(\d+) subtasks/.exec(p.prompt) ?? /(\d+) subtasks/.exec(p.system);
    // Capped so a typo like "10000 subtasks" cannot make one reply allocate megabytes.
    const n = Math.min(m ? parseInt(m[1], 10) : 3, 1000);
    // Decomposition prompts usually wrap the task in instructions; prefer the text after "Task:" when present.
    const taskMatch = /task:\s*([\s\S]*)/i.exec(p.lastUser);
    const task = collapseWhitespace(taskMatch ? taskMatch[1] : p.lastUser).slice(0, 40);
    const subtasks = [];
    for (let i = 1; i <= n; i++) {
      subtasks.push({
        name: `Subtask ${i}: ${randomWords(rand, 3).join(' ')}`,
        prompt: `Part ${i} of ${n} of the task "${task}": ${randomWords(rand, 8).join(' ')}.`,
      });
    }
    return JSON.stringify({ subtasks });
  }
  const head = `Answer to "${collapseWhitespace(p.lastUser).slice(0, 60)}": `;
  return head + randomWords(rand, words).join(' ') + '.';
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, message: string, errorType = defaultErrorType(status), headers: Record<string, string> = {}): void {
  sendJson(res, status, { type: 'error', error: { type: errorType, message } }, headers);
}

/** Reads the whole body; rejects with a 413 HttpError past the size cap. */
function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining instead of destroying the socket, so the client actually receives the 413.
      if (size > MAX_BODY_BYTES) chunks = [];
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
    // A client that disconnects mid-body never gets 'end'; settle so the handler does not leak.
    req.on('close', () => {
      if (!req.complete) reject(new Error('client disconnected while sending the body'));
    });
  });
}

/**
 * Starts the local Anthropic-compatible server and resolves once it is listening.
 *
 * - `POST /v1/messages`: non-streaming Messages API with real validation, auth and error shapes.
 *   The reply is `Answer to "<first 60 chars of the last user message>": ` followed by
 *   min(outputTokens, max_tokens) PRNG words seeded by hash(system + prompt) (stop_reason
 *   max_tokens when capped); the prefix is not counted as tokens. When the prompt or system
 *   contains `Respond with JSON only`, the text is instead `{"subtasks":[{name,prompt}...]}` with
 *   N from the first `(\d+) subtasks` (default 3); that JSON is never truncated (a cut-off plan
 *   would only test the truncation, not the planner), though it costs the same latency.
 * - `/_admin/{stats,faults,latency,reset,health}`: the same control surface over HTTP, for when the
 *   server runs in its own process.
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
  const seed = opts.seed ?? 42;
  let rules: ActiveRule[] = [];
  let faultRand = mulberry32(seed);
  let gen = newGeneration();
  const active = new Set<Ctx>();
  let nextId = 1;

  const setFaults = (input: FaultRule[]): void => {
    rules = validateFaultRules(input).map((rule) => ({ rule, used: 0 }));
    faultRand = mulberry32(seed);
  };
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
    rules = [];
    faultRand = mulberry32(seed);
    latency = { ...configuredLatency };
  };
  const stats = (): LlmStats => ({
    calls: gen.calls,
    inFlight: active.size,
    maxInFlight: gen.maxInFlight,
    perPrompt: Object.fromEntries(gen.perPrompt),
    requests: gen.requests.map((r) => ({ ...r })),
    tokens: { input: gen.inputTokens, output: gen.outputTokens },
  });
  const countMatching = (substring: string): number => {
    let n = 0;
    for (const t of gen.fullTexts) if (t.prompt.includes(substring) || t.system.includes(substring)) n++;
    return n;
  };

  const pickFault = (p: ParsedRequest): Fault | undefined => {
    for (const ar of rules) {
      const { rule } = ar;
      if (rule.times !== undefined && ar.used >= rule.times) continue;
      if (rule.match !== undefined && !p.prompt.includes(rule.match) && !p.system.includes(rule.match)) continue;
      // Drawn only for otherwise-applicable rules so the sequence depends on the traffic, not on rule order quirks.
      if (rule.probability !== undefined && !(faultRand() < rule.probability)) continue;
      ar.used++;
      return rule.fault;
    }
    return undefined;
  };

  const handleMessages = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const g = gen;
    const rec: RequestRecord = {
      id: nextId++, prompt: '', model: '', maxTokens: 0, receivedAt: Date.now(),
      outcome: 'ok', aborted: false, inputTokens: 0, outputTokens: 0,
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

    let raw: string;
    try {
      raw = await readBody(req);
    } catch (err) {
      g.perPrompt.set('', (g.perPrompt.get('') ?? 0) + 1);
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
    const lastUser = parsed?.lastUser ?? lastUserLoose(body);
    const key = lastUser.slice(0, 80);
    g.perPrompt.set(key, (g.perPrompt.get(key) ?? 0) + 1);
    if (parsed) {
      rec.prompt = parsed.prompt.slice(0, RECORD_TEXT_LIMIT);
      if (parsed.hasSystem) rec.system = parsed.system.slice(0, RECORD_TEXT_LIMIT);
      rec.model = parsed.model;
      rec.maxTokens = parsed.maxTokens;
      rec.inputTokens = Math.ceil((parsed.system.length + parsed.prompt.length) / 4);
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
    const fault = pickFault(parsed);
    let lat = latency;
    let fixedText: string | undefined;
    if (fault) {
      switch (fault.kind) {
        case 'status': {
          if (admitted?.ok) admitted.finish(0);
          const headers: Record<string, string> = { ...rateHeaders };
          if (fault.retryAfterS !== undefined) headers['retry-after'] = String(fault.retryAfterS);
          if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
          fail(fault.status, fault.message ?? `injected ${fault.status} fault`, fault.errorType, headers);
          return;
        }
        case 'hang':
          rec.outcome = 'hang';
          return;
        case 'drop':
          rec.outcome = 'drop';
          rec.finishedAt = Date.now();
          req.socket.destroy();
          return;
        case 'malformed': {
          rec.outcome = 'malformed';
          rec.status = 200;
          const text = '{"id":"msg_malformed","type":"message","content":[{"type":"text","text":"cut off';
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': requestId(rec.id) });
          res.end(text);
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
            fail(429, `overloaded: more than ${fault.maxConcurrent} concurrent requests`, 'rate_limit_error', {
              ...(fault.retryAfterMs !== undefined ? { 'retry-after-ms': String(fault.retryAfterMs) } : {}),
              ...(fault.retryAfterS !== undefined ? { 'retry-after': String(fault.retryAfterS) } : {}),
            });
            return;
          }
          break;
      }
    }

    const p = parsed;
    const words = Math.min(lat.outputTokens, p.maxTokens);
    const delay = lat.ttftMs + lat.perTokenMs * words;
    const respond = (): void => {
      ctx.timer = undefined;
      if (res.destroyed) return;
      const text = fixedText ?? buildReplyText(p, words);
      rec.outputTokens = words;
      rec.status = 200;
      rec.finishedAt = Date.now();
      g.inputTokens += rec.inputTokens;
      g.outputTokens += words;
      sendJson(res, 200, {
        id: `msg_local_${rec.id.toString(36).padStart(8, '0')}`,
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text }],
        model: p.model,
        stop_reason: lat.outputTokens > p.maxTokens ? 'max_tokens' : 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: rec.inputTokens, output_tokens: words },
      }, { 'request-id': requestId(rec.id), ...rateHeaders });
      if (admitted?.ok) admitted.finish(words);
    };
    if (delay > 0) ctx.timer = setTimeout(respond, delay);
    else respond();

    function fail(status: number, message: string, errorType?: string, headers: Record<string, string> = {}): void {
      rec.outcome = 'status';
      rec.status = status;
      rec.finishedAt = Date.now();
      sendError(res, status, message, errorType ?? defaultErrorType(status), { 'request-id': requestId(rec.id), ...headers });
    }
  };

  const handleAdmin = async (req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> => {
    const route = `${req.method} ${path}`;
    const readJson = async (): Promise<unknown> => {
      const raw = await readBody(req);
      try {
        return raw.trim() === '' ? undefined : JSON.parse(raw);
      } catch {
        throw new HttpError(400, 'request body is not valid JSON');
      }
    };
    try {
      switch (route) {
        case 'GET /_admin/health':
          return sendJson(res, 200, { ok: true });
        case 'GET /_admin/stats':
          return sendJson(res, 200, stats());
        case 'POST /_admin/faults': {
          const body = await readJson();
          // Also accept { faults: [...] } since that is the natural shape for hand-written curl calls.
          const list = body && !Array.isArray(body) && typeof body === 'object' ? (body as { faults?: unknown }).faults : body;
          setFaults(validateFaultRules(list ?? []));
          return sendJson(res, 200, { ok: true, rules: rules.length });
        }
        case 'POST /_admin/rate-limits': {
          const body = (await readJson()) as RateLimits | null | undefined;
          for (const [k, v] of Object.entries(body ?? {})) {
            if (!['rpm', 'itpm', 'otpm', 'tpm', 'windowMs'].includes(k) || !Number.isInteger(v) || (v as number) <= 0) throw new HttpError(400, `rate limit ${k} must be one of rpm, itpm, otpm, tpm, windowMs with a positive whole number`);
          }
          setRateLimits(body && Object.keys(body).length ? body : undefined);
          return sendJson(res, 200, { ok: true, rateLimits: body ?? null });
        }
        case 'POST /_admin/latency': {
          setLatency(validateLatency((await readJson()) ?? {}));
          return sendJson(res, 200, { ok: true, latency });
        }
        case 'POST /_admin/reset':
          await readBody(req);
          reset();
          return sendJson(res, 200, { ok: true });
        default:
          await readBody(req);
          return sendError(res, 404, `not found: ${route}`);
      }
    } catch (err) {
      if (err instanceof HttpError) return sendError(res, err.status, err.message, err.errorType);
      return sendError(res, 400, err instanceof Error ? err.message : String(err));
    }
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
      work = handleAdmin(req, res, path);
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
        countMatching,
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

function requestId(id: number): string {
  return `req_local_${id.toString(36).padStart(8, '0')}`;
}

/** Best-effort last user text of an invalid body, so rejected requests are still attributed in perPrompt. */
function lastUserLoose(body: unknown): string {
  const messages = (body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (m && m.role === 'user') return textOf(m.content);
  }
  return '';
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
