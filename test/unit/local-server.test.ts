/**
 * Drives the local LLM server (src/testing, the package's testing entry point) with the real
 * Anthropic SDK, so a change in either the server or the SDK's expectations (response shape,
 * error classes, headers) shows up here first.
 */
import Anthropic, { type APIError } from '@anthropic-ai/sdk';
import { messageParams, replyText } from '../../src/activities/llm';
import { decompositionJsonSchema, decompositionOutput, decomposePrompt, DECOMPOSE_SYSTEM, parseDecomposition } from '../../src/core/decompose';
import { DEFAULT_ITEMS, MAX_ITEMS, generateToolInput, startLocalLlmServer, type JsonSchema, type LlmStats, type LocalLlmServer } from '../../src/testing';
import { MODEL, useLocalLlmThroughSdk } from '../helpers/local-llm-sdk';
import { rejectionOf } from '../helpers/rejection';

let server: LocalLlmServer;
let client: Anthropic;
useLocalLlmThroughSdk({ ttftMs: 20, perTokenMs: 0, outputTokens: 12 }, (s, c) => {
  server = s;
  client = c;
});

function ask(prompt: string, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}, options?: { timeout?: number }) {
  return client.messages.create({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: prompt }], ...extra }, options);
}

function textOf(msg: Anthropic.Message): string {
  const block = msg.content[0];
  if (block.type !== 'text') throw new Error(`expected a text block, got ${block.type}`);
  return block.text;
}

const errorOf = (p: Promise<unknown>) => rejectionOf(p);

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('successful replies', () => {
  it('has the real API shape and a deterministic, prompt-dependent text', async () => {
    const a1 = await ask('What is a durable workflow?');
    const a2 = await ask('What is a durable workflow?');
    const b = await ask('Explain retries\nin two lines');

    expect(a1).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: MODEL,
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    expect(a1.id).toMatch(/^msg_/);
    expect(a1.content).toHaveLength(1);
    expect(textOf(a1)).toMatch(/^Answer to "What is a durable workflow\?": /);
    expect(textOf(a1)).toBe(textOf(a2));
    expect(textOf(b)).toMatch(/^Answer to "Explain retries in two lines": /);
    expect(textOf(b).slice(textOf(b).indexOf(': ') + 2)).not.toBe(textOf(a1).slice(textOf(a1).indexOf(': ') + 2));
  });

  it('changes the text with the system prompt and exposes the request-id header', async () => {
    const { data, response } = await client.messages
      .create({ model: MODEL, max_tokens: 100, system: 'Be terse.', messages: [{ role: 'user', content: 'Same prompt' }] })
      .withResponse();
    const plain = await ask('Same prompt');
    expect(textOf(data)).not.toBe(textOf(plain));
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  it('reports usage: input = ceil((system + prompt) / 4), output = words generated', async () => {
    const system = 'You are helpful.'; // 16 chars
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      system: [{ type: 'text', text: system }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'part one' },
            { type: 'text', text: 'part two' },
          ],
        },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'last one' },
      ],
    });
    // prompt = 'part one\npart two' + '\n' + 'last one' = 26 chars
    expect(msg.usage.input_tokens).toBe(Math.ceil((16 + 26) / 4));
    expect(msg.usage.output_tokens).toBe(12);
    expect(textOf(msg)).toMatch(/^Answer to "last one": /);
    const words = textOf(msg).slice('Answer to "last one": '.length).split(' ');
    expect(words).toHaveLength(12);

    const s = server.stats();
    expect(s.tokens).toEqual({ input: 11, output: 12 });
    expect(s.requests[0]).toMatchObject({ prompt: 'part one\npart two\nlast one', system, model: MODEL, maxTokens: 100, outcome: 'ok', status: 200, aborted: false });
  });

  it('truncates to max_tokens with stop_reason max_tokens', async () => {
    const msg = await ask('Long answer please', { max_tokens: 5 });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(5);
    expect(textOf(msg).slice('Answer to "Long answer please": '.length).split(' ')).toHaveLength(5);
    // The truncated text is a prefix of the full one: same PRNG stream, fewer words.
    const full = await ask('Long answer please');
    expect(textOf(full).startsWith(textOf(msg).slice(0, -1))).toBe(true);
  });

  it('answers in text whatever the prompt says: no wording switches the reply', async () => {
    const msg = await ask('Respond with JSON only. Split into 4 subtasks.', { system: 'Respond with JSON only' });
    expect(msg.stop_reason).toBe('end_turn');
    expect(textOf(msg)).toMatch(/^Answer to "Respond with JSON only\. Split into 4 subtasks\.": /);
  });
});

describe('forced tool calls (structured output)', () => {
  const plan: Anthropic.Tool = {
    name: 'record_plan',
    description: 'Records a plan.',
    input_schema: {
      type: 'object',
      properties: {
        steps: {
          type: 'array',
          minItems: 4,
          items: { type: 'object', properties: { name: { type: 'string' }, prompt: { type: 'string' } }, required: ['name', 'prompt'] },
        },
        note: { type: 'string' },
      },
      required: ['steps'],
    },
  };
  const force = (tool: Anthropic.Tool, prompt: string, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) =>
    ask(prompt, { tools: [tool], tool_choice: { type: 'tool', name: tool.name }, ...extra });
  const toolUseOf = (msg: Anthropic.Message): Anthropic.ToolUseBlock => {
    expect(msg.content).toHaveLength(1);
    const block = msg.content[0];
    if (block.type !== 'tool_use') throw new Error(`expected a tool_use block, got ${block.type}`);
    return block;
  };

  it('has the real API shape: one tool_use block, stop_reason tool_use, parsed by the SDK', async () => {
    const msg = await force(plan, 'Plan the week.\nTask: Research the history of the printing press in Europe');
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: MODEL, stop_reason: 'tool_use', stop_sequence: null });
    expect(msg.id).toMatch(/^msg_/);
    const call = toolUseOf(msg);
    expect(call).toMatchObject({ type: 'tool_use', name: 'record_plan', caller: { type: 'direct' } });
    expect(call.id).toMatch(/^toolu_/);
    expect(msg.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: 12 });
    const input = call.input as { steps: { name: string; prompt: string }[]; note?: string };
    // Required properties only, minItems items, strings about the last line of the prompt.
    expect(Object.keys(input)).toEqual(['steps']);
    expect(input.steps).toHaveLength(4);
    input.steps.forEach((s, i) => {
      expect(Object.keys(s).sort()).toEqual(['name', 'prompt']);
      expect(s.name).toMatch(new RegExp(`^Step ${i + 1}: \\w+`));
      expect(s.prompt).toMatch(new RegExp(`^Part ${i + 1} of 4 of the task "Research the history of the printing press in Europe": \\w+`));
    });
    expect(new Set(input.steps.map((s) => s.prompt)).size).toBe(4);
    expect(server.stats().requests[0]).toMatchObject({ tool: 'record_plan', outcome: 'ok', status: 200 });
  });

  it('is deterministic: the same request gets the same input, another prompt another one', async () => {
    const a = toolUseOf(await force(plan, 'Plan a trip'));
    const b = toolUseOf(await force(plan, 'Plan a trip'));
    const c = toolUseOf(await force(plan, 'Plan a party'));
    expect(b.input).toEqual(a.input);
    expect(b.id).not.toBe(a.id);
    expect(c.input).not.toEqual(a.input);
  });

  it('honours minItems and maxItems, defaults to 3 items and caps at 50', async () => {
    const arrayTool = (items: Record<string, unknown>): Anthropic.Tool => ({
      name: 'list',
      input_schema: { type: 'object', properties: { xs: { type: 'array', items: { type: 'string' }, ...items } }, required: ['xs'] },
    });
    const len = async (items: Record<string, unknown>) => (toolUseOf(await force(arrayTool(items), 'Name some colours')).input as { xs: string[] }).xs.length;
    expect(await len({ minItems: 7 })).toBe(7);
    expect(await len({})).toBe(DEFAULT_ITEMS);
    expect(await len({ maxItems: 2 })).toBe(2);
    expect(await len({ minItems: 0 })).toBe(0);
    expect(await len({ minItems: 500 })).toBe(MAX_ITEMS);
  });

  it('is never truncated by max_tokens (costs the capped tokens, stop_reason stays tool_use)', async () => {
    const msg = await force(plan, 'Plan a long project', { max_tokens: 3 });
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.usage.output_tokens).toBe(3);
    expect((toolUseOf(msg).input as { steps: unknown[] }).steps).toHaveLength(4);
  });

  it('the decomposition call of the workflow gets exactly N subtasks that the workflow parses', async () => {
    const input = { prompt: decomposePrompt('Compare cloud GPU providers', 5), system: DECOMPOSE_SYSTEM, output: decompositionOutput(5) };
    const params = messageParams(input, MODEL, 1000);
    expect(params).toMatchObject({ tools: [{ name: 'record_subtasks', input_schema: decompositionJsonSchema(5) }], tool_choice: { type: 'tool', name: 'record_subtasks' } });
    const msg = await client.messages.create(params);
    const text = replyText(msg, input.output);
    const parsed = parseDecomposition(text);
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.subtasks).toHaveLength(5);
    parsed.subtasks.forEach((t, i) => {
      expect(t.name).toMatch(new RegExp(`^Subtask ${i + 1}: `));
      expect(t.prompt).toContain(`Part ${i + 1} of 5 of the task "Compare cloud GPU providers"`);
    });
    // Without a structured output the same prompts get prose, which the workflow would reject.
    const prose = await client.messages.create(messageParams({ prompt: input.prompt, system: input.system }, MODEL, 1000));
    expect(parseDecomposition(replyText(prose)).ok).toBe(false);
  });

  it('tool_choice any uses the first tool; none answers in text; auto and no tool_choice make a tool turn', async () => {
    const other: Anthropic.Tool = { name: 'other', input_schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } };
    const any = await ask('Plan', { tools: [other, plan], tool_choice: { type: 'any' } });
    expect(toolUseOf(any)).toMatchObject({ name: 'other', input: { ok: expect.any(Boolean) } });
    const none = await ask('Plan', { tools: [plan], tool_choice: { type: 'none' } });
    expect(none.stop_reason).toBe('end_turn');
    expect(textOf(none)).toMatch(/^Answer to "Plan": /);
    // The tool turns themselves are covered in local-server-tools.test.ts.
    for (const tool_choice of [{ type: 'auto' as const }, undefined]) {
      const msg = await ask('Plan', { tools: [plan], ...(tool_choice ? { tool_choice } : {}) });
      expect(msg.stop_reason).toBe('tool_use');
      expect(msg.content.map((b) => b.type)).toEqual(['text', 'tool_use']);
    }
  });

  it('a text fault answers a forced call in text (a model that ignored the tool)', async () => {
    server.setFaults([{ match: 'odd one', fault: { kind: 'text', text: 'Sure! Here is a plan.' } }]);
    const msg = await force(plan, 'the odd one');
    expect(msg.stop_reason).toBe('end_turn');
    expect(textOf(msg)).toBe('Sure! Here is a plan.');
    expect(replyText(msg, plan)).toBe('Sure! Here is a plan.');
  });

  it('rejects a tool_choice naming no tool and malformed tools as the API does', async () => {
    const unknown = await errorOf(ask('x', { tools: [plan], tool_choice: { type: 'tool', name: 'missing' } }));
    expect(unknown).toBeInstanceOf(Anthropic.BadRequestError);
    expect((unknown as APIError).message).toContain("Tool 'missing' not found");
    const noSchema = await errorOf(ask('x', { tools: [{ name: 'bad' } as Anthropic.Tool], tool_choice: { type: 'tool', name: 'bad' } }));
    expect((noSchema as APIError).message).toContain('input_schema');
    const badName = await errorOf(ask('x', { tools: [{ ...plan, name: 'has space' }] }));
    expect((badName as APIError).message).toContain('tools.0.name');
    const anyWithout = await errorOf(ask('x', { tool_choice: { type: 'any' } }));
    expect(anyWithout).toBeInstanceOf(Anthropic.BadRequestError);
  });
});

describe('tool input generation from a JSON Schema', () => {
  const gen = (schema: JsonSchema, seed = 1) => {
    let a = seed;
    const rand = () => (a = (a * 16807) % 2147483647) / 2147483647;
    return generateToolInput(schema, { rand, subject: 'the subject', words: (n) => Array.from({ length: n }, () => 'w') });
  };

  it('gives values the schema accepts: enums, consts, bounded numbers, booleans, formats, nullable types', () => {
    for (let seed = 1; seed < 40; seed++) {
      const v = gen(
        {
          type: 'object',
          properties: {
            kind: { type: 'string', enum: ['a', 'b', 'c'] },
            fixed: { const: 42 },
            count: { type: 'integer', minimum: 3, maximum: 5 },
            share: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
            even: { type: 'integer', minimum: 1, maximum: 9, multipleOf: 2 },
            flag: { type: 'boolean' },
            when: { type: 'string', format: 'date-time' },
            day: { type: 'string', format: 'date' },
            id: { type: 'string', format: 'uuid' },
            short: { type: 'string', maxLength: 5 },
            long: { type: 'string', minLength: 300 },
            maybe: { type: ['null', 'string'] },
            optional: { type: 'string' },
          },
          required: ['kind', 'fixed', 'count', 'share', 'even', 'flag', 'when', 'day', 'id', 'short', 'long', 'maybe'],
        },
        seed,
      ) as Record<string, unknown>;
      expect(['a', 'b', 'c']).toContain(v.kind);
      expect(v.fixed).toBe(42);
      expect(Number.isInteger(v.count) && (v.count as number) >= 3 && (v.count as number) <= 5).toBe(true);
      expect((v.share as number) > 0 && (v.share as number) < 1).toBe(true);
      expect([2, 4, 6, 8]).toContain(v.even);
      expect(typeof v.flag).toBe('boolean');
      expect(new Date(v.when as string).toISOString()).toBe(v.when);
      expect(v.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(v.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
      expect((v.short as string).length).toBeLessThanOrEqual(5);
      expect((v.long as string).length).toBeGreaterThanOrEqual(300);
      expect(typeof v.maybe).toBe('string');
      expect(v).not.toHaveProperty('optional');
    }
  });

  it('follows $ref, anyOf, allOf and tuple items; a recursive schema terminates', () => {
    const v = gen({
      type: 'object',
      $defs: { point: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 0 } }, required: ['x'] } },
      properties: {
        at: { $ref: '#/$defs/point' },
        either: { anyOf: [{ type: 'integer', minimum: 7, maximum: 7 }, { type: 'string' }] },
        both: {
          allOf: [
            { type: 'object', properties: { a: { const: 1 } }, required: ['a'] },
            { properties: { b: { const: 2 } }, required: ['b'] },
          ],
        },
        pair: { type: 'array', prefixItems: [{ const: 'first' }, { type: 'boolean' }], minItems: 2, maxItems: 2 },
      },
      required: ['at', 'either', 'both', 'pair'],
    }) as Record<string, unknown>;
    expect(v).toEqual({ at: { x: 0 }, either: 7, both: { a: 1, b: 2 }, pair: ['first', expect.any(Boolean)] });

    const tree = gen({ type: 'object', properties: { children: { type: 'array', minItems: 2, items: { $ref: '#' } } }, required: ['children'] });
    expect(JSON.stringify(tree).length).toBeLessThan(1_000_000);
  });
});

describe('validation and auth', () => {
  it('rejects invalid requests with BadRequestError and the message', async () => {
    const noMax = await errorOf(client.messages.create({ model: MODEL, max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }));
    expect(noMax).toBeInstanceOf(Anthropic.BadRequestError);
    expect((noMax as APIError).status).toBe(400);
    expect((noMax as APIError).message).toContain('max_tokens');
    expect((noMax as APIError).error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });

    const noMessages = await errorOf(client.messages.create({ model: MODEL, max_tokens: 10, messages: [] }));
    expect(noMessages).toBeInstanceOf(Anthropic.BadRequestError);
    expect((noMessages as APIError).message).toContain('messages');

    const noModel = await errorOf(client.messages.create({ max_tokens: 10, messages: [{ role: 'user', content: 'x' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming));
    expect((noModel as APIError).message).toContain('model');

    // Streaming is supported (local-server-tools.test.ts); a non-boolean `stream` is not.
    const streaming = await errorOf(client.post('/v1/messages', { body: { model: MODEL, max_tokens: 10, stream: 'yes', messages: [{ role: 'user', content: 'x' }] } }));
    expect(streaming).toBeInstanceOf(Anthropic.BadRequestError);
    expect((streaming as APIError).message).toContain('stream');
  });

  it('requires an API key', async () => {
    const res = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } });

    const bearer = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer token' },
      body: JSON.stringify({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(bearer.status).toBe(200);
  });
});

describe('faults', () => {
  it('429 carries retry-after on the RateLimitError headers', async () => {
    server.setFaults([{ fault: { kind: 'status', status: 429, retryAfterS: 7, retryAfterMs: 1500 } }]);
    const err = await errorOf(ask('rate limited'));
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.headers?.get('retry-after')).toBe('7');
    expect(e.headers?.get('retry-after-ms')).toBe('1500');
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(server.stats().requests[0]).toMatchObject({ outcome: 'status', status: 429 });
  });

  it('529 surfaces as an overloaded APIError', async () => {
    server.setFaults([{ fault: { kind: 'status', status: 529, message: 'Overloaded' } }]);
    const err = await errorOf(ask('overloaded'));
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toBeInstanceOf(Anthropic.OverloadedError);
    expect((err as APIError).status).toBe(529);
    expect((err as APIError).error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
  });

  it('a times rule is spent after K calls', async () => {
    server.setFaults([{ times: 2, fault: { kind: 'status', status: 500 } }]);
    await expect(ask('a')).rejects.toBeInstanceOf(Anthropic.InternalServerError);
    await expect(ask('b')).rejects.toBeInstanceOf(Anthropic.InternalServerError);
    await expect(ask('c')).resolves.toMatchObject({ type: 'message' });
    await expect(ask('d')).resolves.toMatchObject({ type: 'message' });
    expect(server.stats().calls).toBe(4);
  });

  it('a match rule only hits matching prompts (or system prompts)', async () => {
    server.setFaults([{ match: 'POISON', fault: { kind: 'status', status: 400, message: 'poisoned' } }]);
    await expect(ask('harmless')).resolves.toMatchObject({ type: 'message' });
    await expect(ask('has POISON inside')).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await expect(ask('harmless', { system: 'POISON system' })).rejects.toThrow('poisoned');
    expect(server.countMatching('POISON')).toBe(2);
    expect(server.countMatching('harmless')).toBe(2);
  });

  it('probability rules are reproducible for a given seed', async () => {
    const run = async (): Promise<boolean[]> => {
      server.setFaults([{ probability: 0.5, fault: { kind: 'status', status: 500 } }]);
      const out: boolean[] = [];
      for (let i = 0; i < 12; i++)
        out.push(
          await ask(`p${i}`).then(
            () => true,
            () => false,
          ),
        );
      return out;
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    expect(first).toContain(true);
    expect(first).toContain(false);
  });

  it('malformed JSON makes the SDK throw a SyntaxError (not an APIError)', async () => {
    server.setFaults([{ fault: { kind: 'malformed' } }]);
    const err = await errorOf(ask('malformed'));
    // The SDK calls response.json() on a 2xx and lets the parse error escape unwrapped. It is created
    // in Node's realm, not jest's sandbox, so `instanceof SyntaxError` is false here: check the name.
    expect((err as Error).name).toBe('SyntaxError');
    expect((err as Error).message).toMatch(/JSON/);
    expect(err).not.toBeInstanceOf(Anthropic.APIError);
    expect(server.stats().requests[0]).toMatchObject({ outcome: 'malformed', aborted: false });
  });

  it('drop surfaces as APIConnectionError', async () => {
    server.setFaults([{ times: 1, fault: { kind: 'drop' } }]);
    const err = await errorOf(ask('dropped'));
    expect(err).toBeInstanceOf(Anthropic.APIConnectionError);
    expect(err).not.toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    expect(server.stats().requests[0]).toMatchObject({ outcome: 'drop', aborted: false });
    // The server keeps serving afterwards.
    await expect(ask('after drop')).resolves.toMatchObject({ type: 'message' });
  });

  it('hang + SDK timeout gives APIConnectionTimeoutError and marks the record aborted', async () => {
    server.setFaults([{ match: 'hang me', fault: { kind: 'hang' } }]);
    const started = Date.now();
    const err = await errorOf(ask('please hang me', {}, { timeout: 300 }));
    expect(err).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await waitFor(() => server.stats().inFlight === 0);
    expect(server.stats().requests[0]).toMatchObject({ outcome: 'hang', aborted: true });
    expect(server.stats().requests[0].finishedAt).toBeDefined();
  });

  it('a latency fault changes only that request', async () => {
    server.setFaults([{ match: 'slow', fault: { kind: 'latency', ttftMs: 300, outputTokens: 3 } }]);
    let t = Date.now();
    const slow = await ask('slow one');
    expect(Date.now() - t).toBeGreaterThanOrEqual(280);
    expect(slow.usage.output_tokens).toBe(3);
    t = Date.now();
    const fast = await ask('fast one');
    expect(Date.now() - t).toBeLessThan(250);
    expect(fast.usage.output_tokens).toBe(12);
  });
});

describe('concurrency and stats', () => {
  it('counts 5 concurrent requests as maxInFlight 5', async () => {
    server.setLatency({ ttftMs: 200 });
    const replies = await Promise.all([1, 2, 3, 4, 5].map((i) => ask(`concurrent ${i}`)));
    expect(replies).toHaveLength(5);
    const s = server.stats();
    expect(s.maxInFlight).toBe(5);
    expect(s.inFlight).toBe(0);
    expect(s.calls).toBe(5);
    expect(Object.keys(s.perPrompt).sort()).toEqual([1, 2, 3, 4, 5].map((i) => `concurrent ${i}`));
  });

  it('a client abort clears the pending reply and marks the record aborted', async () => {
    server.setLatency({ ttftMs: 5000 });
    const controller = new AbortController();
    const other = new AbortController();
    const p = client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'abort me' }] }, { signal: other.signal });
    const pending = client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'abort me too' }] }, { signal: controller.signal });
    await waitFor(() => server.stats().inFlight === 2);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
    await waitFor(() => server.stats().inFlight === 1);
    expect(server.stats().requests.find((r) => r.prompt === 'abort me too')).toMatchObject({ aborted: true, outputTokens: 0 });
    server.setLatency({ ttftMs: 20 });
    // Latency is fixed when a request arrives, so the first one is still waiting; the reset
    // below must not disturb it (it belongs to the previous stats generation).
    server.reset();
    expect(server.stats().inFlight).toBe(1);
    other.abort();
    await expect(p).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
    await waitFor(() => server.stats().inFlight === 0);
    expect(server.stats().requests).toHaveLength(0);
  });
});

describe('admin endpoints', () => {
  const admin = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  };

  it('health, faults, latency, stats and reset work over HTTP', async () => {
    expect(await admin('GET', '/_admin/health')).toEqual({ status: 200, json: { ok: true } });

    expect((await admin('POST', '/_admin/faults', [{ match: 'boom', times: 1, fault: { kind: 'status', status: 503 } }])).status).toBe(200);
    await expect(ask('boom')).rejects.toMatchObject({ status: 503 });
    await expect(ask('boom')).resolves.toMatchObject({ type: 'message' });

    expect((await admin('POST', '/_admin/latency', { outputTokens: 4 })).status).toBe(200);
    expect((await ask('short')).usage.output_tokens).toBe(4);

    const stats = (await admin('GET', '/_admin/stats')).json as LlmStats;
    expect(stats.calls).toBe(3);
    expect(stats.perPrompt).toEqual({ boom: 2, short: 1 });
    expect(stats.requests.map((r) => r.outcome)).toEqual(['status', 'ok', 'ok']);
    expect(stats.tokens.output).toBe(12 + 4);

    expect(await admin('POST', '/_admin/reset')).toEqual({ status: 200, json: { ok: true } });
    expect(server.stats().calls).toBe(0);
    expect(server.getLatency().outputTokens).toBe(12);
  });

  it('rejects bad fault rules and unknown paths in the error shape', async () => {
    const bad = await admin('POST', '/_admin/faults', [{ fault: { kind: 'explode' } }]);
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('explode') } });

    const missing = await admin('GET', '/nope');
    expect(missing).toEqual({ status: 404, json: { type: 'error', error: { type: 'not_found_error', message: expect.any(String) } } });
  });
});

describe('lifecycle', () => {
  it('close() ends hanging requests', async () => {
    const own = await startLocalLlmServer({ ttftMs: 0, perTokenMs: 0, faults: [{ fault: { kind: 'hang' } }] });
    const c = new Anthropic({ apiKey: 'k', baseURL: own.url, maxRetries: 0 });
    const pending = c.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hang' }] });
    await waitFor(() => own.stats().inFlight === 1);
    await own.close();
    await expect(pending).rejects.toBeInstanceOf(Anthropic.APIConnectionError);
    expect(own.stats().requests[0]).toMatchObject({ outcome: 'hang', aborted: true });
  });

  it('reports a busy port as EADDRINUSE', async () => {
    await expect(startLocalLlmServer({ port: server.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
