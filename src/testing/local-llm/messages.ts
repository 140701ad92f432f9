/**
 * `POST /v1/messages` bodies in, Anthropic `Message`s out: request validation (as strict as the
 * real API where it matters to a client), and the deterministic replies — text, usage, stop
 * reasons, truncation at max_tokens, and the `tool_use` answer to a forced tool call.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { HttpError } from './http';
import { hashString, mulberry32 } from './prng';
import { generateToolInput, type JsonSchema } from './tool-input';

/** Simulated model latency: the reply arrives after `ttftMs + perTokenMs * outputTokens`. */
export interface LatencyOptions {
  /** Time to first token, in ms. */
  ttftMs: number;
  /** Generation time per output token, in ms. */
  perTokenMs: number;
  /** Output length (in words, counted as tokens) when max_tokens does not cap it. */
  outputTokens: number;
}

/** Latency used when neither the options nor `setLatency` say otherwise (≈3 s per call). */
export const DEFAULT_LATENCY: LatencyOptions = { ttftMs: 1000, perTokenMs: 8, outputTokens: 250 };

export function isNonNegativeNumber(v: unknown): v is number {
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

/** A custom tool of the request (`tools[i]`). */
export interface RequestTool {
  name: string;
  description?: string;
  input_schema: JsonSchema;
}

/** A parsed, validated `POST /v1/messages` body. */
export interface ParsedRequest {
  model: string;
  maxTokens: number;
  /** All user text, joined by "\n". */
  prompt: string;
  system: string;
  hasSystem: boolean;
  lastUser: string;
  tools: RequestTool[];
  /** The tool the model must call (`tool_choice` `{type: 'tool', name}`, or the first tool for `{type: 'any'}`). */
  forcedTool?: RequestTool;
}

/** Text of a message `content` / `system` value: a string, or the text blocks of a block array. */
export function textOf(content: unknown): string {
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

/** Best-effort last user text of an invalid body, so rejected requests are still attributed in perPrompt. */
export function lastUserLoose(body: unknown): string {
  const messages = (body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (m && m.role === 'user') return textOf(m.content);
  }
  return '';
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;

function parseTools(raw: unknown): RequestTool[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new HttpError(400, 'tools: Input should be a valid list');
  const names = new Set<string>();
  return raw.map((t, i) => {
    if (!t || typeof t !== 'object' || Array.isArray(t)) throw new HttpError(400, `tools.${i}: Input should be an object`);
    const tool = t as Record<string, unknown>;
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      throw new HttpError(400, `tools.${i}.type: the local server supports custom tools only, got ${JSON.stringify(tool.type)}`);
    }
    if (typeof tool.name !== 'string' || !TOOL_NAME.test(tool.name)) throw new HttpError(400, `tools.${i}.name: String should match pattern '${TOOL_NAME.source}'`);
    if (names.has(tool.name)) throw new HttpError(400, `tools: Tool names must be unique (${tool.name})`);
    names.add(tool.name);
    if (tool.description !== undefined && typeof tool.description !== 'string') throw new HttpError(400, `tools.${i}.description: Input should be a valid string`);
    const schema = tool.input_schema as Record<string, unknown> | undefined;
    if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw new HttpError(400, `tools.${i}.input_schema: Field required`);
    if (schema.type !== 'object') throw new HttpError(400, `tools.${i}.input_schema.type: Input should be 'object'`);
    return { name: tool.name, ...(tool.description !== undefined ? { description: tool.description as string } : {}), input_schema: schema as JsonSchema };
  });
}

function parseToolChoice(raw: unknown, tools: RequestTool[]): RequestTool | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new HttpError(400, 'tool_choice: Input should be an object');
  const c = raw as Record<string, unknown>;
  switch (c.type) {
    case 'auto':
    case 'none':
      return undefined;
    case 'any':
      if (tools.length === 0) throw new HttpError(400, 'tool_choice: tool_choice may only be specified while providing tools.');
      return tools[0];
    case 'tool': {
      if (typeof c.name !== 'string') throw new HttpError(400, 'tool_choice.tool.name: Field required');
      const tool = tools.find((t) => t.name === c.name);
      if (!tool) throw new HttpError(400, `tool_choice: Tool '${c.name}' not found in tools`);
      return tool;
    }
    default:
      throw new HttpError(400, `tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'`);
  }
}

/** Validates a `POST /v1/messages` body like the real API does (the fields a client gets wrong). */
export function parseMessagesBody(body: unknown): ParsedRequest {
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
  const tools = parseTools(b.tools);
  const forcedTool = parseToolChoice(b.tool_choice, tools);
  // Checked after the shape so that a malformed streaming request still gets the more specific error first.
  if (b.stream === true) throw new HttpError(400, 'streaming is not supported by the local server; send stream: false');
  return {
    model: b.model,
    maxTokens: b.max_tokens,
    prompt: userTexts.join('\n'),
    system: textOf(b.system),
    hasSystem: b.system !== undefined,
    lastUser,
    tools,
    ...(forcedTool ? { forcedTool } : {}),
  };
}

const VOCABULARY = [
  'the',
  'a',
  'durable',
  'agent',
  'task',
  'result',
  'plan',
  'step',
  'data',
  'model',
  'answer',
  'reason',
  'because',
  'therefore',
  'and',
  'with',
  'of',
  'to',
  'in',
  'for',
  'system',
  'workflow',
  'activity',
  'retry',
  'state',
  'signal',
  'query',
  'summary',
  'analysis',
  'detail',
  'evidence',
  'approach',
  'clearly',
  'quickly',
  'carefully',
  'first',
  'then',
  'finally',
  'each',
  'every',
  'parallel',
  'sequence',
  'output',
  'input',
  'value',
  'important',
  'simple',
  'robust',
  'consider',
  'suggests',
  'shows',
  'is',
  'are',
  'was',
  'will',
  'can',
  'should',
  'report',
  'section',
  'idea',
  'example',
  'point',
  'context',
  'goal',
];

/** `count` words of the reply vocabulary drawn from `rand`. */
export function randomWords(rand: () => number, count: number): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) out[i] = VOCABULARY[Math.floor(rand() * VOCABULARY.length)];
  return out;
}

export function collapseWhitespace(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * The reply text of a request: `Answer to "<first 60 chars of the last user message>": ` and
 * `words` PRNG words seeded by hash(system + prompt), so a capped reply is a prefix of the full one.
 */
export function buildReplyText(p: ParsedRequest, words: number): string {
  const rand = mulberry32(hashString(p.system + p.prompt));
  const head = `Answer to "${collapseWhitespace(p.lastUser).slice(0, 60)}": `;
  return head + randomWords(rand, words).join(' ') + '.';
}

/**
 * The input of the forced tool call: generated from the tool's `input_schema`, deterministic in
 * (system, prompt, tool), with strings about the subject of the last user message.
 */
export function buildToolInput(p: ParsedRequest, tool: RequestTool): unknown {
  const rand = mulberry32(hashString(`${p.system}\u0000${p.prompt}\u0000${tool.name}\u0000${JSON.stringify(tool.input_schema)}`));
  return generateToolInput(tool.input_schema, { rand, subject: subjectOf(p.lastUser), words: (n) => randomWords(rand, n) });
}

/**
 * What the last user message is about, for the strings of a tool input: its last non-empty line,
 * without a leading `Label:`, whitespace collapsed, at most 60 chars.
 */
export function subjectOf(lastUser: string): string {
  const lines = lastUser
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const last = lines.at(-1) ?? '';
  return collapseWhitespace(last.replace(/^[\p{L}][\p{L}\p{N} _-]{0,30}:\s+(?=\S)/u, '')).slice(0, 60);
}

/** What the reply contains, decided before the latency is waited out. */
export interface ReplyPlan {
  /** Output tokens generated (and charged in usage): min(latency output tokens, max_tokens). */
  words: number;
  /** The latency's output would have exceeded max_tokens. */
  capped: boolean;
  /** A `text` fault's exact text, replacing the generated reply. */
  fixedText?: string;
}

/**
 * The whole `Message` of a successful request. A forced tool call gets one `tool_use` block and
 * stop_reason `tool_use`; its input is never truncated (a cut-off plan would only test the
 * truncation), though it costs the same latency and output tokens as a text reply.
 */
export function buildMessage(p: ParsedRequest, plan: ReplyPlan, ids: { message: string; toolUse: string }, inputTokens: number): Anthropic.Messages.Message {
  let content: Anthropic.Messages.ContentBlock[];
  let stopReason: Anthropic.Messages.StopReason;
  if (p.forcedTool && plan.fixedText === undefined) {
    content = [{ type: 'tool_use', id: ids.toolUse, name: p.forcedTool.name, input: buildToolInput(p, p.forcedTool), caller: { type: 'direct' } }];
    stopReason = 'tool_use';
  } else {
    content = [{ type: 'text', text: plan.fixedText ?? buildReplyText(p, plan.words), citations: null }];
    stopReason = plan.capped ? 'max_tokens' : 'end_turn';
  }
  return {
    id: ids.message,
    type: 'message',
    role: 'assistant',
    content,
    model: p.model,
    stop_reason: stopReason,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: {
      input_tokens: inputTokens,
      output_tokens: plan.words,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      inference_geo: null,
      output_tokens_details: null,
      server_tool_use: null,
      service_tier: 'standard',
      speed: null,
    },
  };
}
