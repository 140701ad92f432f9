/**
 * The local LLM server as an agent with `search_documents`: its query comes from the prompt (the
 * company it is about); offered a read tool too, it reads the best hit next; its final answer
 * quotes the best hit (or the document read) whole. Driven through the real SDK.
 */
import path from 'node:path';
import type Anthropic from '@anthropic-ai/sdk';
import { createDocumentSearch, formatSearchHits } from '../../src/activities/document-search';
import { READ_DOCUMENT_TOOL } from '../../src/core/agent';
import { researchPrompt } from '../../src/core/intel';
import { SEARCH_DOCUMENTS_TOOL, searchDocumentsInput } from '../../src/core/tools/search';
import { MAX_QUOTE_CHARS, QUOTE_CHARS, quoteOf, searchQueryOf } from '../../src/testing/local-llm/messages';
import { MODEL, useLocalLlmThroughSdk } from '../helpers/local-llm-sdk';

let client: Anthropic;
useLocalLlmThroughSdk({ ttftMs: 0, perTokenMs: 0, outputTokens: 20 }, (_s, c) => {
  client = c;
});

const TOOLS = [SEARCH_DOCUMENTS_TOOL, READ_DOCUMENT_TOOL] as Anthropic.Tool[];
const docs = createDocumentSearch({ dir: path.resolve(__dirname, '../../examples/corpus') });

function toolUses(msg: Anthropic.Message): Anthropic.ToolUseBlock[] {
  return msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
}

async function firstTurn(prompt: string): Promise<Anthropic.Message> {
  return client.messages.create({ model: MODEL, max_tokens: 300, tools: TOOLS, messages: [{ role: 'user', content: prompt }] });
}

describe('an agent offered search_documents', () => {
  test.each([
    ['Anthropic', researchPrompt('Anthropic')],
    ['Google DeepMind', researchPrompt('Google DeepMind')],
    // The company comes after more than 8 key words: it stays in the query all the same.
    ['Hugging Face', 'Please use the tools to collect the latest facts, figures, products, prices, partnerships and people for a short briefing note about Hugging Face.'],
  ])('searches for %s, with a query from the prompt', async (company, prompt) => {
    const msg = await firstTurn(prompt);
    expect(msg.stop_reason).toBe('tool_use');
    const [call, ...others] = toolUses(msg);
    expect(others).toEqual([]);
    expect(call.name).toBe('search_documents');
    const input = searchDocumentsInput.parse(call.input);
    expect(input.query).toContain(company);
    // And the search finds that company's documents.
    const hits = await docs.search(input.query, input.limit);
    expect(hits[0].name.startsWith(`${company.toLowerCase().replace(/ /g, '-')}/`)).toBe(true);
  });

  test("ends with text quoting the first hit's excerpt whole", async () => {
    const prompt = researchPrompt('Anthropic');
    const first = await firstTurn(prompt);
    const [call] = toolUses(first);
    const input = searchDocumentsInput.parse(call.input);
    const hits = await docs.search(input.query, input.limit);
    const result = formatSearchHits(input.query, hits);
    expect(result.length).toBeGreaterThan(QUOTE_CHARS);
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: prompt },
      { role: 'assistant', content: first.content as Anthropic.ContentBlockParam[] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: result }] },
    ];
    // Offered only the search tool, it answers from the search.
    const msg = await client.messages.create({ model: MODEL, max_tokens: 300, tools: [SEARCH_DOCUMENTS_TOOL] as Anthropic.Tool[], messages });
    expect(msg.stop_reason).toBe('end_turn');
    const text = msg.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    expect(text).toContain(`search_documents (${call.id}) returned "${hits.length} results for`);
    expect(text).toContain(`1. ${hits[0].name} (score`);
    expect(text).toContain(hits[0].excerpt);
    // Only the first entry is guaranteed; the second is not quoted whole.
    expect(text).not.toContain(`2. ${hits[1].name}`);
  });
});

describe('an agent offered search_documents and read_document', () => {
  test('searches first, reads the best hit next, then answers quoting the document', async () => {
    const prompt = researchPrompt('Anthropic');
    const first = await firstTurn(prompt);
    expect(toolUses(first).map((c) => c.name)).toEqual(['search_documents']);
    const [call] = toolUses(first);
    const input = searchDocumentsInput.parse(call.input);
    const hits = await docs.search(input.query, input.limit);
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: prompt },
      { role: 'assistant', content: first.content as Anthropic.ContentBlockParam[] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: formatSearchHits(input.query, hits) }] },
    ];
    const second = await client.messages.create({ model: MODEL, max_tokens: 300, tools: TOOLS, messages });
    expect(second.stop_reason).toBe('tool_use');
    const [read] = toolUses(second);
    expect(read).toMatchObject({ name: 'read_document', input: { name: hits[0].name } });
    const doc = await docs.read(hits[0].name);
    messages.push(
      { role: 'assistant', content: second.content as Anthropic.ContentBlockParam[] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: read.id, content: doc }] },
    );
    const third = await client.messages.create({ model: MODEL, max_tokens: 300, tools: TOOLS, messages });
    expect(third.stop_reason).toBe('end_turn');
    const text = third.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    expect(text).toContain(`read_document (${read.id}) returned "${doc.replace(/\s+/g, ' ').trim().slice(0, 300)}`);
  });
});

describe('quoteOf and searchQueryOf', () => {
  test('a plain result is quoted to QUOTE_CHARS; a ranked list to the end of its first entry, at most MAX_QUOTE_CHARS', () => {
    const plain = `Retries back off. ${'x'.repeat(400)}`;
    expect(quoteOf(plain)).toBe(plain.slice(0, QUOTE_CHARS));
    const entry = `1. a.md (score 2.0)\n   ${'word '.repeat(100).trim()}`;
    const ranked = `2 results for "q":\n${entry}\n2. b.md (score 1.0)\n   other`;
    expect(quoteOf(ranked)).toBe(`2 results for "q": 1. a.md (score 2.0) ${'word '.repeat(100).trim()}`);
    const short = '2 results for "q":\n1. a.md (score 2.0)\n   tiny\n2. b.md (score 1.0)\n   other';
    expect(quoteOf(short)).toBe(short.replace(/\s+/g, ' ')); // Under QUOTE_CHARS: all of it.
    const huge = `1 result for "q":\n1. a.md (score 2.0)\n   ${'y'.repeat(5000)}`;
    expect(quoteOf(huge)).toHaveLength(MAX_QUOTE_CHARS);
  });

  test('a query keeps every key word up to 8, else the names first, in order', () => {
    expect(searchQueryOf(['Research', 'Anthropic', 'products'])).toBe('Research Anthropic products');
    expect(searchQueryOf('one two three four five six seven eight nine Acme AI21'.split(' '))).toBe('one two three four five six Acme AI21');
    expect(searchQueryOf('Research Anthropic products market position recent developments funding key people'.split(' '))).toBe(
      'Research Anthropic products market position recent developments funding',
    );
  });
});
