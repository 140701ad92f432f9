/**
 * Tool turns (unforced `tools`, `tool_result` follow-ups) and streaming (`stream: true`) of the
 * local LLM server, driven through the real Anthropic SDK like local-server.test.ts.
 */
import Anthropic, { type APIError } from '@anthropic-ai/sdk';
import type { LocalLlmServer } from '../../src/testing';
import { MODEL, useLocalLlmThroughSdk } from '../helpers/local-llm-sdk';
import { rejectionOf } from '../helpers/rejection';

let server: LocalLlmServer;
let client: Anthropic;
// A per-token delay so a stream visibly grows; small enough to keep the tests fast.
useLocalLlmThroughSdk({ ttftMs: 10, perTokenMs: 1, outputTokens: 30 }, (s, c) => {
  server = s;
  client = c;
});

const searchDocs: Anthropic.Tool = {
  name: 'lookup_docs',
  description: 'Look up the documentation for a query.',
  input_schema: {
    type: 'object',
    properties: { query: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10 } },
    required: ['query', 'limit'],
  },
};
const readDocument: Anthropic.Tool = {
  name: 'read_document',
  description: 'Read one document by its name.',
  input_schema: { type: 'object', properties: { name: { type: 'string', maxLength: 40 } }, required: ['name'] },
};
const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Current weather in a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const TOOLS = [searchDocs, weather, readDocument];
const PROMPT = 'Search the docs about Temporal retries, then read the document retries.md';

function params(messages: Anthropic.MessageParam[], extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}): Anthropic.MessageCreateParamsNonStreaming {
  return { model: MODEL, max_tokens: 200, tools: TOOLS, messages, ...extra };
}

function toolUses(msg: Anthropic.Message): Anthropic.ToolUseBlock[] {
  return msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
}

function textOf(msg: Anthropic.Message): string {
  return msg.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
}

const errorOf = (p: Promise<unknown>) => rejectionOf(p);

/** The assistant turn as a message param, and a user turn answering its tool calls. */
function followUp(msg: Anthropic.Message, results: (call: Anthropic.ToolUseBlock) => Omit<Anthropic.ToolResultBlockParam, 'type' | 'tool_use_id'>): Anthropic.MessageParam[] {
  return [
    { role: 'user', content: PROMPT },
    { role: 'assistant', content: msg.content as Anthropic.ContentBlockParam[] },
    { role: 'user', content: toolUses(msg).map((call) => ({ type: 'tool_result' as const, tool_use_id: call.id, ...results(call) })) },
  ];
}

describe('tool turns', () => {
  it('calls the offered tools related to the prompt, with schema-valid inputs and stop_reason tool_use', async () => {
    const msg = await client.messages.create(params([{ role: 'user', content: PROMPT }]));
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content[0]).toMatchObject({ type: 'text', text: "I'll use lookup_docs and read_document." });
    const calls = toolUses(msg);
    expect(calls.map((c) => c.name)).toEqual(['lookup_docs', 'read_document']);
    for (const c of calls) expect(c.id).toMatch(/^toolu_[A-Za-z0-9]+$/);
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);

    const search = calls[0].input as { query: unknown; limit: unknown };
    expect(Object.keys(search).sort()).toEqual(['limit', 'query']);
    expect(search.query).toBe('Search docs Temporal retries read document retries.md');
    expect(Number.isInteger(search.limit) && (search.limit as number) >= 1 && (search.limit as number) <= 10).toBe(true);
    expect(calls[1].input).toEqual({ name: 'retries.md' });

    // Tool definitions count as input tokens; the call is recorded.
    const plain = await client.messages.create({ model: MODEL, max_tokens: 200, messages: [{ role: 'user', content: PROMPT }] });
    expect(msg.usage.input_tokens).toBeGreaterThan(plain.usage.input_tokens + JSON.stringify(TOOLS).length / 4 - 1);
    expect(server.stats().requests[0]).toMatchObject({ outcome: 'ok', toolCalls: ['lookup_docs', 'read_document'] });
  });

  it('falls back to the first tool when none relates to the prompt, and at most 3 calls', async () => {
    const one = await client.messages.create(params([{ role: 'user', content: 'Hello there' }]));
    expect(toolUses(one).map((c) => c.name)).toEqual(['lookup_docs']);
    const many = Array.from({ length: 5 }, (_, i): Anthropic.Tool => ({
      name: `search_${i}`,
      input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
    }));
    const capped = await client.messages.create(params([{ role: 'user', content: 'search everything' }], { tools: many }));
    expect(toolUses(capped).map((c) => c.name)).toEqual(['search_0', 'search_1', 'search_2']);
    expect(toolUses(capped)[0].input).toEqual({ q: 'search everything' });
  });

  it('is deterministic: the same request gets the same ids and inputs, another conversation other ids', async () => {
    const a = await client.messages.create(params([{ role: 'user', content: PROMPT }]));
    const b = await client.messages.create(params([{ role: 'user', content: PROMPT }]));
    const c = await client.messages.create(params([{ role: 'user', content: `${PROMPT} again` }]));
    expect(b.content).toEqual(a.content);
    expect(toolUses(c)[0].id).not.toBe(toolUses(a)[0].id);
  });

  it('tool_choice none answers in text', async () => {
    const msg = await client.messages.create(params([{ role: 'user', content: PROMPT }], { tool_choice: { type: 'none' } }));
    expect(msg.stop_reason).toBe('end_turn');
    expect(textOf(msg)).toMatch(/^Answer to "Search the docs/);
  });

  it('answers tool results with end_turn text quoting each, naming an error result', async () => {
    const first = await client.messages.create(params([{ role: 'user', content: PROMPT }]));
    const long = `Retries back off exponentially. ${'x'.repeat(300)}`;
    const messages = followUp(first, (call) =>
      call.name === 'lookup_docs' ? { content: long } : { content: [{ type: 'text', text: 'ENOENT: retries.md not found' }], is_error: true },
    );
    const msg = await client.messages.create(params(messages));
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.content).toHaveLength(1);
    const text = textOf(msg);
    const [search, read] = toolUses(first);
    expect(text).toContain(`lookup_docs (${search.id}) returned "${long.slice(0, 200)}"`);
    expect(text).not.toContain(long.slice(0, 201));
    expect(text).toContain(`read_document (${read.id}) returned an error: "ENOENT: retries.md not found"`);
    // Deterministic too.
    expect((await client.messages.create(params(messages))).content).toEqual(msg.content);
  });

  it('rejects tool blocks the real API rejects', async () => {
    const first = await client.messages.create(params([{ role: 'user', content: PROMPT }]));
    const messages = followUp(first, () => ({ content: 'ok' }));
    const badId = structuredClone(messages);
    (badId[2].content as Anthropic.ToolResultBlockParam[])[0].tool_use_id = 'toolu_unknown';
    const err = await errorOf(client.messages.create(params(badId)));
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as APIError).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect((err as APIError).message).toContain('toolu_unknown');

    const missing = structuredClone(messages);
    missing[2].content = (missing[2].content as Anthropic.ToolResultBlockParam[]).slice(0, 1);
    expect((await errorOf(client.messages.create(params(missing)))) as APIError).toMatchObject({ status: 400, message: expect.stringContaining('without `tool_result`') });

    const noTools = await errorOf(client.messages.create({ model: MODEL, max_tokens: 10, messages }));
    expect((noTools as APIError).message).toContain('must define tools');

    const badTool = await errorOf(
      client.messages.create(params([{ role: 'user', content: 'x' }], { tools: [{ description: 'no name', input_schema: { type: 'object' } } as Anthropic.Tool] })),
    );
    expect(badTool).toBeInstanceOf(Anthropic.BadRequestError);
    const noSchema = await errorOf(client.messages.create(params([{ role: 'user', content: 'x' }], { tools: [{ name: 'bad' } as Anthropic.Tool] })));
    expect((noSchema as APIError).message).toContain('input_schema');
  });

  it('still applies faults to tool turns', async () => {
    server.setFaults([{ match: 'retries.md', times: 1, fault: { kind: 'status', status: 529 } }]);
    const err = await errorOf(client.messages.create(params([{ role: 'user', content: PROMPT }])));
    expect((err as APIError).status).toBe(529);
  });
});

describe('streaming', () => {
  it('streams text deltas over time, and finalMessage equals the non-streaming reply', async () => {
    const req = { model: MODEL, max_tokens: 200, messages: [{ role: 'user' as const, content: 'Stream me a story' }] };
    const plain = await client.messages.create(req);
    const order: string[] = [];
    const stream = client.messages.stream(req);
    const deltas: string[] = [];
    stream.on('text', (delta) => {
      deltas.push(delta);
      order.push('text');
    });
    const { response } = await stream.withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('request-id')).toMatch(/^req_local_/);
    const final = await stream.finalMessage();
    order.push('final');
    expect(deltas.length).toBeGreaterThan(5);
    expect(order.at(-1)).toBe('final');
    expect(deltas.join('')).toBe(textOf(plain));
    expect(final.content).toEqual(plain.content);
    expect(final).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: plain.usage.input_tokens, output_tokens: plain.usage.output_tokens } });
    expect(server.stats().requests[1]).toMatchObject({ stream: true, outcome: 'ok', status: 200, chunks: deltas.length, outputTokens: 30 });
  });

  it('streams the raw event sequence of the real API', async () => {
    const stream = await client.messages.create({ model: MODEL, max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'short' }] });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe('message_start');
    expect(types.slice(1, 2)).toEqual(['content_block_start']);
    expect(types.slice(-4)).toEqual(['content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  });

  it('streams tool_use blocks as input_json_delta with the same parsed input as the non-streaming reply', async () => {
    const req = params([{ role: 'user', content: PROMPT }]);
    const plain = await client.messages.create(req);
    const json: string[] = [];
    const stream = client.messages.stream(req);
    stream.on('inputJson', (partial) => json.push(partial));
    const final = await stream.finalMessage();
    expect(json.length).toBeGreaterThan(1);
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual(plain.content);
    expect(toolUses(final).map((c) => c.input)).toEqual(toolUses(plain).map((c) => c.input));
  });

  it('answers a status fault with the HTTP error before streaming', async () => {
    server.setFaults([{ match: 'overloaded', fault: { kind: 'status', status: 529 } }]);
    const err = await errorOf(client.messages.stream({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'overloaded' }] }).finalMessage());
    expect((err as APIError).status).toBe(529);
  });

  it('a stream-drop fault cuts the connection after N chunks and the SDK throws', async () => {
    server.setFaults([{ match: 'flaky stream', times: 1, fault: { kind: 'stream-drop', afterChunks: 2 } }]);
    const deltas: string[] = [];
    const stream = client.messages.stream({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'flaky stream' }] });
    stream.on('text', (d) => deltas.push(d));
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(deltas).toHaveLength(2);
    expect(server.stats().requests[0]).toMatchObject({ stream: true, outcome: 'drop', chunks: 2, aborted: false });
    // The rule is spent: the retry streams to the end.
    const again = await client.messages.stream({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'flaky stream' }] }).finalMessage();
    expect(again.stop_reason).toBe('end_turn');
    // Without stream: true, a stream-drop drops the request outright.
    server.setFaults([{ match: 'flaky stream', fault: { kind: 'stream-drop', afterChunks: 2 } }]);
    await expect(client.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'flaky stream' }] })).rejects.toBeInstanceOf(
      Anthropic.APIConnectionError,
    );
  });
});
