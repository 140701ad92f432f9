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
  /** `tool_choice.type`, when given. */
  toolChoice?: 'auto' | 'none' | 'any' | 'tool';
  /** `stream: true`: answer as server-sent events. */
  stream: boolean;
  /** The `tool_result` blocks of the last user message (answering the previous assistant's `tool_use`s). */
  toolResults: ToolResult[];
  /** The last non-empty user text (a tool-result turn has none of its own): what tool inputs are about. */
  topic: string;
  /** A stable digest of the whole conversation (system, messages, tools), seeding tool_use ids. */
  conversationHash: string;
  /** Characters of tool definitions and tool_use / tool_result blocks, counted as input tokens (chars / 4). */
  toolChars: number;
  /** Names of every tool_use block of the conversation, in order. */
  toolsUsed: string[];
}

/** A `tool_result` block of the last user message, with the name of the tool_use it answers. */
export interface ToolResult {
  toolUseId: string;
  toolName: string;
  /** Its content as text (text blocks joined; other blocks as `[image]` etc.). */
  content: string;
  isError: boolean;
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

function toolChoiceType(raw: unknown): ParsedRequest['toolChoice'] {
  const t = (raw as { type?: unknown } | null | undefined)?.type;
  return t === 'auto' || t === 'none' || t === 'any' || t === 'tool' ? t : undefined;
}

/** Text of a `tool_result` block's content: a string, or its blocks (text verbatim, others as `[type]`). */
function toolResultText(content: unknown, where: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new HttpError(400, `${where}.content: Input should be a valid string or list`);
  return content
    .map((b, j) => {
      const block = b as { type?: unknown; text?: unknown } | null;
      if (!block || typeof block !== 'object' || typeof block.type !== 'string') throw new HttpError(400, `${where}.content.${j}.type: Field required`);
      if (block.type === 'text') {
        if (typeof block.text !== 'string') throw new HttpError(400, `${where}.content.${j}.text: Field required`);
        return block.text;
      }
      return `[${block.type}]`;
    })
    .join('\n');
}

/** What the content blocks of the messages say about tool use, validated as the real API does. */
interface ToolBlocks {
  /** tool_result blocks of the last message, if it is a user message. */
  lastResults: ToolResult[];
  /** Names of every tool_use block, in order. */
  used: string[];
  /** Some message has a tool_use or tool_result block. */
  any: boolean;
  chars: number;
}

function parseToolBlocks(messages: Record<string, unknown>[]): ToolBlocks {
  const out: ToolBlocks = { lastResults: [], used: [], any: false, chars: 0 };
  /** tool_use ids (→ name) of the previous assistant message, while the next message must answer them. */
  let pending = new Map<string, string>();
  let pendingAt = -1;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const blocks = Array.isArray(m.content) ? (m.content as unknown[]) : [];
    const uses = new Map<string, string>();
    const results: ToolResult[] = [];
    for (let j = 0; j < blocks.length; j++) {
      const where = `messages.${i}.content.${j}`;
      const b = blocks[j] as Record<string, unknown> | null;
      if (!b || typeof b !== 'object' || Array.isArray(b)) throw new HttpError(400, `${where}: Input should be an object`);
      if (typeof b.type !== 'string') throw new HttpError(400, `${where}.type: Field required`);
      if (b.type === 'tool_use') {
        if (m.role !== 'assistant') throw new HttpError(400, `${where}: tool_use blocks may only appear in assistant messages`);
        if (typeof b.id !== 'string' || b.id === '') throw new HttpError(400, `${where}.id: Field required`);
        if (typeof b.name !== 'string' || b.name === '') throw new HttpError(400, `${where}.name: Field required`);
        if (!b.input || typeof b.input !== 'object' || Array.isArray(b.input)) throw new HttpError(400, `${where}.input: Input should be a valid dictionary`);
        if (uses.has(b.id)) throw new HttpError(400, `${where}: tool_use ids must be unique (${b.id})`);
        uses.set(b.id, b.name);
        out.used.push(b.name);
        out.any = true;
        out.chars += b.name.length + JSON.stringify(b.input).length;
      } else if (b.type === 'tool_result') {
        if (m.role !== 'user') throw new HttpError(400, `${where}: tool_result blocks may only appear in user messages`);
        if (typeof b.tool_use_id !== 'string' || b.tool_use_id === '') throw new HttpError(400, `${where}.tool_use_id: Field required`);
        if (b.is_error !== undefined && typeof b.is_error !== 'boolean') throw new HttpError(400, `${where}.is_error: Input should be a valid boolean`);
        const name = pendingAt === i - 1 ? pending.get(b.tool_use_id) : undefined;
        if (name === undefined) {
          throw new HttpError(
            400,
            `${where}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
          );
        }
        if (results.some((r) => r.toolUseId === b.tool_use_id)) throw new HttpError(400, `${where}: duplicate tool_result for tool_use_id ${b.tool_use_id}`);
        const content = toolResultText(b.content, where);
        results.push({ toolUseId: b.tool_use_id, toolName: name, content, isError: b.is_error === true });
        out.any = true;
        out.chars += content.length;
      }
    }
    if (pendingAt === i - 1 && pending.size > 0) {
      const missing = [...pending.keys()].filter((id) => !results.some((r) => r.toolUseId === id));
      if (missing.length > 0) {
        throw new HttpError(
          400,
          `messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
    }
    pending = uses;
    pendingAt = i;
    if (i === messages.length - 1 && m.role === 'user') out.lastResults = results;
  }
  return out;
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
  let topic = '';
  for (let i = 0; i < b.messages.length; i++) {
    const m = b.messages[i] as Record<string, unknown> | null;
    if (!m || typeof m !== 'object') throw new HttpError(400, `messages.${i}: Input should be an object`);
    if (m.role !== 'user' && m.role !== 'assistant') throw new HttpError(400, `messages.${i}.role: Input should be 'user' or 'assistant'`);
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) throw new HttpError(400, `messages.${i}.content: Field required`);
    if (m.role === 'user') {
      lastUser = textOf(m.content);
      userTexts.push(lastUser);
      if (lastUser.trim() !== '') topic = lastUser;
    }
  }
  if (b.system !== undefined && typeof b.system !== 'string' && !Array.isArray(b.system)) {
    throw new HttpError(400, 'system: Input should be a string or a list of text blocks');
  }
  const tools = parseTools(b.tools);
  const forcedTool = parseToolChoice(b.tool_choice, tools);
  const toolBlocks = parseToolBlocks(b.messages as Record<string, unknown>[]);
  if (toolBlocks.any && tools.length === 0) throw new HttpError(400, 'Requests which include `tool_use` or `tool_result` blocks must define tools.');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') throw new HttpError(400, 'stream: Input should be a valid boolean');
  const toolChoice = toolChoiceType(b.tool_choice);
  return {
    model: b.model,
    maxTokens: b.max_tokens,
    prompt: userTexts.join('\n'),
    system: textOf(b.system),
    hasSystem: b.system !== undefined,
    lastUser,
    tools,
    ...(forcedTool ? { forcedTool } : {}),
    ...(toolChoice ? { toolChoice } : {}),
    stream: b.stream === true,
    toolResults: toolBlocks.lastResults,
    topic,
    conversationHash: conversationHash(b),
    toolChars: toolBlocks.chars + (tools.length > 0 ? JSON.stringify(tools).length : 0),
    toolsUsed: toolBlocks.used,
  };
}

/** 64 bits of FNV-1a over the request's conversation, as 13 base-36 digits. */
function conversationHash(b: Record<string, unknown>): string {
  const text = JSON.stringify([b.system ?? null, b.messages, b.tools ?? null]);
  return hashString(text).toString(36).padStart(7, '0') + hashString(`\u0001${text}`).toString(36).padStart(7, '0');
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

/** Most tool_use blocks of one tool turn. */
export const MAX_TOOL_CALLS = 3;

const STOPWORDS = new Set(
  'a an and are as at be but by can could do does for from get give have how i in into is it its me my of on or please show tell than that the their them then there these this to us use using was we what when where which who why will with would you your about find look'.split(
    ' ',
  ),
);

/** The key words of a text, in order, without stop words or duplicates (case kept; dots/dashes inside words kept). */
export function keywordsOf(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of text.matchAll(/[\p{L}\p{N}][\p{L}\p{N}._/-]*/gu)) {
    const w = m[0].replace(/[._/-]+$/, '');
    const lower = w.toLowerCase();
    if (w.length < 2 || STOPWORDS.has(lower) || seen.has(lower)) continue;
    seen.add(lower);
    out.push(w);
  }
  return out;
}

/** Lower-case word stems of a tool's name (split on `_`, `-`, camelCase) and description. */
function toolWords(tool: RequestTool): string[] {
  const name = tool.name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ');
  return keywordsOf(`${name} ${tool.description ?? ''}`).map((w) => w.toLowerCase());
}

/** Two words are related when one starts with the other (at least 4 letters shared: search/searching, doc/docs is too short). */
function related(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 4 && long.startsWith(short);
}

/**
 * The tools a tool turn calls: those whose name or description shares a key word with the topic
 * (the last user text), in the order offered, at most {@link MAX_TOOL_CALLS}; the first tool when none does.
 */
export function selectTools(p: ParsedRequest): RequestTool[] {
  const topic = keywordsOf(p.topic).map((w) => w.toLowerCase());
  let picked = p.tools.filter((t) => toolWords(t).some((tw) => topic.some((w) => related(w, tw)))).slice(0, MAX_TOOL_CALLS);
  // A model searches before it reads: with a search tool picked, reading waits for its results.
  if (picked.some((t) => SEARCH_TOOL.test(t.name))) picked = picked.filter((t) => !READ_TOOL.test(t.name));
  return picked.length > 0 ? picked : p.tools.slice(0, 1);
}

const SEARCH_TOOL = /search/i;
const READ_TOOL = /(^|_)(read|open|fetch|get)(_|$)/i;

/**
 * After a search answered with a ranked list (`1. <name> (score …)`), the read tool the
 * conversation offers and has not called yet, with the best hit's name: the model reads it next.
 */
export function followUpRead(p: ParsedRequest): { tool: RequestTool; name: string } | undefined {
  const tool = p.tools.find((t) => READ_TOOL.test(t.name));
  if (!tool || p.toolsUsed.some((n) => READ_TOOL.test(n))) return undefined;
  for (const r of p.toolResults) {
    if (r.isError || !SEARCH_TOOL.test(r.toolName)) continue;
    const hit = /^\s*1\. (\S+) \(score/m.exec(r.content);
    if (hit) return { tool, name: hit[1] };
  }
  return undefined;
}

const QUERY_KEYS = /^(q|query|queries|search|search_?query|search_?terms|keywords|terms)$/i;
const NAME_KEYS = /^(name|document|doc|document_?name|file|file_?name|filename|path|page)$/i;
const ENTITY_KEYS = /^(company|company_?name|organi[sz]ation|org|entity|person|brand|vendor)$/i;

/** The proper names of a text: its capitalised words that do not start a sentence, joined. */
function properNamesOf(text: string): string | undefined {
  const names = [...text.matchAll(/(?<![.!?:]\s|^)\b[A-Z][A-Za-z0-9&-]+(?:\s+[A-Z][A-Za-z0-9&-]+)*/g)].map((m) => m[0]);
  return names[0];
}

/** Most key words of a generated search query. */
export const QUERY_WORDS = 8;

/**
 * A search query from a topic's key words: all of them up to {@link QUERY_WORDS}; past that, the
 * names first (capitalised words, words with digits: `Anthropic`, `AI21`), then the others, kept in
 * the topic's order. So the subject of a long prompt (a company, a product) stays in the query.
 */
export function searchQueryOf(keywords: string[]): string {
  if (keywords.length <= QUERY_WORDS) return keywords.join(' ');
  const kept = new Set(keywords.filter((w) => /^\p{Lu}|\p{N}/u.test(w)).slice(0, QUERY_WORDS));
  for (const w of keywords) {
    if (kept.size >= QUERY_WORDS) break;
    kept.add(w);
  }
  return keywords.filter((w) => kept.has(w)).join(' ');
}

/**
 * The input of a tool turn's call: generated from the schema like a forced call's, except that a
 * query-like string property (query, q, search, keywords…) gets the key words of the topic (see
 * {@link searchQueryOf}), a name-like one (name, document, file, path…) one word of it (a
 * file-like word if any, else the longest) and an entity-like one (company, organization,
 * person…) the topic's first proper name.
 */
export function buildTurnToolInput(p: ParsedRequest, tool: RequestTool): unknown {
  const rand = mulberry32(hashString(`${p.conversationHash}\u0000${tool.name}`));
  const keywords = keywordsOf(p.topic);
  const fileLike = keywords.find((w) => /[./_]/.test(w));
  const longest = keywords.reduce<string | undefined>((best, w) => (best === undefined || w.length > best.length ? w : best), undefined);
  const subject = subjectOf(p.topic);
  return generateToolInput(tool.input_schema, {
    rand,
    subject,
    words: (n) => randomWords(rand, n),
    stringFor: (key) => {
      if (key === undefined || keywords.length === 0) return undefined;
      if (QUERY_KEYS.test(key)) return searchQueryOf(keywords);
      if (NAME_KEYS.test(key)) return fileLike ?? longest;
      if (ENTITY_KEYS.test(key)) return properNamesOf(p.topic) ?? longest;
      return undefined;
    },
  });
}

/** `toolu_…` id of the `index`-th call of a tool turn: deterministic in the conversation. */
export function toolUseId(p: ParsedRequest, index: number): string {
  return `toolu_01${p.conversationHash}${index.toString(36).padStart(2, '0')}`;
}

/** How many characters of each tool result the answer quotes. */
export const QUOTE_CHARS = 200;
/** Most characters quoted of a ranked list's first entry (see {@link quoteOf}). */
export const MAX_QUOTE_CHARS = 1000;

/**
 * The quoted part of a tool result, whitespace collapsed: its first {@link QUOTE_CHARS} characters;
 * of a ranked list (a header line ending in `:`, then `1. …`, `2. …`, as search tools answer), at
 * least its header and whole first entry (up to {@link MAX_QUOTE_CHARS}), so the answer carries
 * what the best hit said.
 */
export function quoteOf(content: string, toolName = ''): string {
  // What a read tool returned is a document: the answer carries its substance, not only its title.
  if (READ_TOOL.test(toolName)) return collapseWhitespace(content).slice(0, MAX_QUOTE_CHARS);
  const text = collapseWhitespace(content);
  // Only the start is looked at: the quote is bounded anyway, and so is the pattern's work.
  const first = /^[^\n]*:[ \t]*\n\s*1\. [\s\S]*?(?=\n\s*2\. |$)/.exec(content.trim().slice(0, 4 * MAX_QUOTE_CHARS));
  const keep = first ? Math.min(MAX_QUOTE_CHARS, Math.max(QUOTE_CHARS, collapseWhitespace(first[0]).length)) : QUOTE_CHARS;
  return text.slice(0, keep);
}

/** The answer to a turn carrying tool results: quotes each ({@link quoteOf}; errors named as such), then `words` PRNG words. */
export function buildToolResultText(p: ParsedRequest, words: number): string {
  const rand = mulberry32(hashString(`${p.system}\u0000${p.conversationHash}`));
  const quotes = p.toolResults.map((r) => {
    const quoted = `"${quoteOf(r.content, r.toolName)}"`;
    return r.isError ? `${r.toolName} (${r.toolUseId}) returned an error: ${quoted}` : `${r.toolName} (${r.toolUseId}) returned ${quoted}`;
  });
  return `Based on the tool results: ${quotes.join('; ')}. ${randomWords(rand, words).join(' ')}.`;
}

/** What kind of answer a request gets (before a text fault overrides it). */
export type ReplyKind = 'forced-tool' | 'tool-turn' | 'read-turn' | 'tool-results' | 'text';

export function replyKind(p: ParsedRequest): ReplyKind {
  if (p.forcedTool) return 'forced-tool';
  if (p.toolResults.length > 0) return p.toolChoice !== 'none' && followUpRead(p) ? 'read-turn' : 'tool-results';
  if (p.tools.length > 0 && p.toolChoice !== 'none') return 'tool-turn';
  return 'text';
}

/**
 * The whole `Message` of a successful request.
 * - A forced tool call gets one `tool_use` block and stop_reason `tool_use`.
 * - Offered tools (tool_choice absent or auto) without tool results in the last user message get a
 *   tool turn: a short text block, then one `tool_use` block per related tool (see {@link selectTools}),
 *   ids deterministic in the conversation, stop_reason `tool_use`.
 * - Tool results in the last user message get an end_turn text quoting them.
 * Tool inputs are never truncated (a cut-off plan would only test the truncation), though they cost
 * the same latency and output tokens as a text reply.
 */
export function buildMessage(p: ParsedRequest, plan: ReplyPlan, ids: { message: string; toolUse: string }, inputTokens: number): Anthropic.Messages.Message {
  let content: Anthropic.Messages.ContentBlock[];
  let stopReason: Anthropic.Messages.StopReason;
  const kind = plan.fixedText === undefined ? replyKind(p) : 'text';
  if (kind === 'forced-tool' && p.forcedTool) {
    content = [{ type: 'tool_use', id: ids.toolUse, name: p.forcedTool.name, input: buildToolInput(p, p.forcedTool), caller: { type: 'direct' } }];
    stopReason = 'tool_use';
  } else if (kind === 'read-turn') {
    const { tool, name } = followUpRead(p)!;
    const rand = mulberry32(hashString(`${p.conversationHash}\u0000${tool.name}`));
    const input = generateToolInput(tool.input_schema, {
      rand,
      subject: name,
      words: (n) => randomWords(rand, n),
      stringFor: (key) => (key !== undefined && NAME_KEYS.test(key) ? name : undefined),
    });
    content = [
      { type: 'text', text: `I'll read ${name}.`, citations: null },
      { type: 'tool_use', id: toolUseId(p, 0), name: tool.name, input, caller: { type: 'direct' } },
    ];
    stopReason = 'tool_use';
  } else if (kind === 'tool-turn') {
    const tools = selectTools(p);
    const names = tools.map((t) => t.name);
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
    content = [
      { type: 'text', text: `I'll use ${list}.`, citations: null },
      ...tools.map((t, i): Anthropic.Messages.ToolUseBlock => ({
        type: 'tool_use',
        id: toolUseId(p, i),
        name: t.name,
        input: buildTurnToolInput(p, t),
        caller: { type: 'direct' },
      })),
    ];
    stopReason = 'tool_use';
  } else {
    const text = plan.fixedText ?? (kind === 'tool-results' ? buildToolResultText(p, plan.words) : buildReplyText(p, plan.words));
    content = [{ type: 'text', text, citations: null }];
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
