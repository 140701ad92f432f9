/** The `search_documents` tool's search over a documents folder, and the shipped demo corpus (no Temporal). */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import {
  MAX_HITS_PER_DOCUMENT,
  PASSAGE_CHARS,
  createDocumentSearch,
  documentSearchToolSource,
  formatSearchHits,
  splitPassages,
  type DocumentSearch,
} from '../../src/activities/document-search';
import { DEFAULT_COMPANIES } from '../../src/core/companies';
import { companySlug, researchPrompt } from '../../src/core/intel';
import { SEARCH_DOCUMENTS_TOOL, parseSearchDocumentsInput, searchDocumentsInput } from '../../src/core/tools/search';

const CORPUS = path.resolve(__dirname, '../../examples/corpus');
const ctx = { signal: new AbortController().signal, heartbeat: () => undefined };

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'document-search-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function write(rel: string, text: string): Promise<string> {
  const file = path.join(tmp, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, 'utf8');
  return file;
}

/** The failure a promise rejects with. */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

describe('the shipped corpus', () => {
  const docs = createDocumentSearch({ dir: CORPUS });

  test('every default company has a folder of at least 3 documents of 120–300 words, titled with its name', async () => {
    const names = await docs.documents();
    const problems: string[] = [];
    for (const company of DEFAULT_COMPANIES) {
      const own = names.filter((n) => n.startsWith(`${companySlug(company)}/`));
      if (own.length < 3) problems.push(`${company}: ${own.length} documents`);
      for (const name of own) {
        const text = await docs.read(name);
        if (!text.startsWith(`# ${company}`)) problems.push(`${name}: title ${text.split('\n')[0]}`);
        if (words(text) < 120 || words(text) > 300) problems.push(`${name}: ${words(text)} words`);
      }
    }
    expect(problems).toEqual([]);
    // Nothing but the companies' folders is indexed; the README says what the corpus is.
    expect(names.filter((n) => !DEFAULT_COMPANIES.some((c) => n.startsWith(`${companySlug(c)}/`)))).toEqual([]);
    expect(await docs.read('README.md')).toMatch(/fictional/i);
  });

  test('stays small', async () => {
    let bytes = 0;
    for (const name of [...(await docs.documents()), 'README.md']) bytes += (await fs.stat(path.join(CORPUS, name))).size;
    expect(bytes).toBeLessThan(150 * 1024);
  });

  test.each(DEFAULT_COMPANIES.map((c) => [c]))('a query naming %s ranks its documents first', async (company) => {
    const slug = `${companySlug(company)}/`;
    for (const query of [company, researchPrompt(company), `${company} pricing`]) {
      const hits = await docs.search(query, 5);
      expect({ query, top: hits.slice(0, 3).map((h) => h.name) }).toEqual({
        query,
        top: [expect.stringMatching(`^${slug}`), expect.stringMatching(`^${slug}`), expect.stringMatching(`^${slug}`)],
      });
    }
  });

  test('hits carry the passage that holds the fact, with name, title, section and score', async () => {
    const [hit] = await docs.search('Halvorsen Capital Series F', 3);
    expect(hit).toMatchObject({ name: 'anthropic/news.md', title: 'Anthropic: recent news', section: 'Series F: $3.2 billion led by Halvorsen Capital' });
    expect(hit.score).toBeGreaterThan(0);
    expect(hit.excerpt).toContain('$3.2 billion Series F round led by Halvorsen Capital');
    // Scores descend; at most 2 passages of one document.
    const hits = await docs.search('pricing per million input tokens', 20);
    expect(hits.length).toBe(20);
    expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
    const perDoc = new Map<string, number>();
    for (const h of hits) perDoc.set(h.name, (perDoc.get(h.name) ?? 0) + 1);
    expect(Math.max(...perDoc.values())).toBeLessThanOrEqual(MAX_HITS_PER_DOCUMENT);
    for (const h of hits) expect(h.excerpt.length).toBeLessThanOrEqual(PASSAGE_CHARS);
  });

  test('prefix and fuzzy matches, modestly', async () => {
    expect((await docs.search('Kestr', 1))[0].name).toMatch(/^meta-ai\//);
    expect((await docs.search('Sirrocco', 1))[0].name).toMatch(/^mistral-ai\//);
  });
});

describe('search', () => {
  test('limit: default 5, at most 20, at least 1', async () => {
    for (let i = 0; i < 30; i++) await write(`d${String(i).padStart(2, '0')}.md`, `# Doc ${i}\n\nThe common word appears here, number ${i}.`);
    const docs = createDocumentSearch({ dir: tmp });
    expect(await docs.search('common')).toHaveLength(5);
    expect(await docs.search('common', 3)).toHaveLength(3);
    expect(await docs.search('common', 50)).toHaveLength(20);
    expect(await docs.search('common', 0)).toHaveLength(1);
    expect(await docs.search('common', Number.NaN)).toHaveLength(5);
  });

  test('no match, and its formatting', async () => {
    await write('a.md', '# A\n\nSomething about apples.');
    const docs = createDocumentSearch({ dir: tmp });
    expect(await docs.search('zzyzx quartz')).toEqual([]);
    expect(await docs.search('the of and')).toEqual([]);
    expect(formatSearchHits('zzyzx  quartz', [])).toBe('No documents match "zzyzx quartz".');
  });

  test('formats hits for the model', () => {
    const text = formatSearchHits('acme pricing', [
      { name: 'acme/products.md', title: 'Acme: products', section: 'Pricing', score: 7.06, excerpt: 'Acme Pro costs $10.' },
      { name: 'acme/overview.md', title: 'Acme', score: 3.2, excerpt: 'Acme makes anvils.' },
    ]);
    expect(text).toBe('2 results for "acme pricing":\n1. acme/products.md (score 7.1)\n   Pricing: Acme Pro costs $10.\n2. acme/overview.md (score 3.2)\n   Acme makes anvils.');
    expect(formatSearchHits('x', [{ name: 'x.txt', title: 'x', score: 1, excerpt: 'x' }])).toMatch(/^1 result for "x":\n/);
  });

  test('indexes .md and .txt files recursively, with relative names; skips hidden files and other types', async () => {
    await write('top.txt', 'Walrus notes in plain text.');
    await write('deep/er/doc.md', '# Deep doc\n\nA walrus lives here.');
    await write('.hidden/secret.md', 'walrus hidden');
    await write('.dot.md', 'walrus dot');
    await write('data.json', '{"walrus": true}');
    const docs = createDocumentSearch({ dir: tmp });
    expect(await docs.documents()).toEqual(['deep/er/doc.md', 'top.txt']);
    const hits = await docs.search('walrus');
    expect(hits.map((h) => h.name).sort()).toEqual(['deep/er/doc.md', 'top.txt']);
    expect(hits.find((h) => h.name === 'top.txt')?.title).toBe('top');
    expect(hits.find((h) => h.name === 'deep/er/doc.md')?.title).toBe('Deep doc');
  });

  test('long documents are split into passages of at most PASSAGE_CHARS, each findable on its own', async () => {
    const filler = (n: number) => Array.from({ length: n }, (_, i) => `Sentence ${i} says little of note.`).join(' ');
    await write('long.md', `# Long\n\n${filler(40)}\n\n## Later\n\n${filler(10)} The narwhal appears once.\n\n${filler(30)}`);
    const docs = createDocumentSearch({ dir: tmp });
    const [hit] = await docs.search('narwhal');
    expect(hit).toMatchObject({ name: 'long.md', section: 'Later' });
    expect(hit.excerpt).toContain('The narwhal appears once.');
    expect(hit.excerpt.length).toBeLessThanOrEqual(PASSAGE_CHARS);

    const split = splitPassages(`# T\nintro line\n\n${'word '.repeat(400)}\n\n## S\n\n> quoted **bold**`, 'fallback');
    expect(split.title).toBe('T');
    expect(split.passages[0].text.startsWith('intro line')).toBe(true);
    for (const p of split.passages) expect(p.text.length).toBeLessThanOrEqual(PASSAGE_CHARS);
    expect(split.passages.at(-1)).toEqual({ section: 'S', text: 'quoted bold' });
    expect(splitPassages('no heading', 'file').title).toBe('file');
  });

  test('re-indexes when a file is added, changed or removed, checking at most once per recheck interval', async () => {
    let now = 1_000_000;
    await write('a.md', '# A\n\nAbout apples.');
    const docs = createDocumentSearch({ dir: tmp, now: () => now });
    expect(await docs.search('zebra')).toEqual([]);

    await write('b.md', '# B\n\nA zebra crossing.');
    now += 500;
    expect(await docs.search('zebra')).toEqual([]); // Checked less than a second ago.
    now += 600;
    expect((await docs.search('zebra')).map((h) => h.name)).toEqual(['b.md']);

    const b = path.join(tmp, 'b.md');
    await fs.writeFile(b, '# B\n\nNow about giraffes instead.');
    await fs.utimes(b, new Date(now + 5000), new Date(now + 5000));
    await fs.rm(path.join(tmp, 'a.md'));
    now += 1001;
    expect(await docs.search('zebra')).toEqual([]);
    expect((await docs.search('giraffes')).map((h) => h.name)).toEqual(['b.md']);
    expect(await docs.search('apples')).toEqual([]);
    expect(await docs.documents()).toEqual(['b.md']);

    // close drops the index (a refresh in flight stops); the next call builds it again.
    now += 1001;
    const inFlight = docs.search('giraffes');
    docs.close();
    await inFlight;
    expect((await docs.search('giraffes')).map((h) => h.name)).toEqual(['b.md']);
    expect(await docs.documents()).toEqual(['b.md']);
  });

  test('concurrent first calls share one indexing', async () => {
    await write('a.md', 'apples');
    const docs = createDocumentSearch({ dir: tmp });
    const spy = jest.spyOn(fs, 'readFile');
    try {
      const all = await Promise.all([docs.search('apples'), docs.search('apples'), docs.documents()]);
      expect(all[0]).toHaveLength(1);
      expect(all[1]).toHaveLength(1);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  test('a missing folder fails non-retryably as ToolError, naming it', async () => {
    const docs = createDocumentSearch({ dir: path.join(tmp, 'nope') });
    const f = await failureOf(docs.search('anything'));
    expect(f).toMatchObject({ type: 'ToolError', nonRetryable: true });
    expect(f.message).toContain(path.join(tmp, 'nope'));
  });
});

describe('nothing outside the folder', () => {
  let docs: DocumentSearch;
  let outside: string;
  beforeEach(async () => {
    outside = await fs.mkdtemp(path.join(os.tmpdir(), 'document-search-outside-'));
    await fs.writeFile(path.join(outside, 'secret.md'), '# Secret\n\nThe password is swordfish.');
    await fs.mkdir(path.join(outside, 'dir'));
    await fs.writeFile(path.join(outside, 'dir', 'more.md'), 'swordfish again');
    await write('docs/inside.md', '# Inside\n\nAn ordinary document.');
    await fs.symlink(path.join(outside, 'secret.md'), path.join(tmp, 'docs', 'escape.md'));
    await fs.symlink(path.join(outside, 'dir'), path.join(tmp, 'linked-dir'));
    await fs.symlink(path.join(tmp, 'docs', 'inside.md'), path.join(tmp, 'alias.md'));
    docs = createDocumentSearch({ dir: tmp });
  });
  afterEach(async () => {
    await fs.rm(outside, { recursive: true, force: true });
  });

  test('symlinks resolving outside (files or folders) are not indexed; one resolving inside is', async () => {
    expect(await docs.search('swordfish')).toEqual([]);
    expect(await docs.documents()).toEqual(['alias.md', 'docs/inside.md']);
  });

  test.each([
    ['../x.md', /"\.\.\/x\.md" leaves the documents folder/],
    ['docs/../../x.md', /leaves the documents folder/],
    ['..\\x.md', /leaves the documents folder/],
    ['/etc/passwd', /is an absolute path/],
    ['C:\\Windows\\win.ini', /is an absolute path/],
    ['docs/escape.md', /resolves \(through a symlink\) outside the documents folder/],
    ['linked-dir/more.md', /resolves \(through a symlink\) outside the documents folder/],
    ['docs/missing.md', /is not a document of the documents folder/],
    ['docs', /is not a file/],
    ['', /is not a document name/],
    ['a\0b', /NUL/],
  ])('read(%j) is refused non-retryably as ToolInputError', async (name, message) => {
    const f = await failureOf(docs.read(name));
    expect(f).toMatchObject({ type: 'ToolInputError', nonRetryable: true });
    expect(f.message).toMatch(/^read_document: /);
    expect(f.message).toMatch(message);
  });

  test('reads documents by relative name (also through a symlink inside)', async () => {
    expect(await docs.read('docs/inside.md')).toContain('An ordinary document.');
    expect(await docs.read('./docs/inside.md')).toContain('An ordinary document.');
    expect(await docs.read('alias.md')).toContain('An ordinary document.');
  });
});

describe('the tool', () => {
  test('its definition and input schema agree', () => {
    expect(SEARCH_DOCUMENTS_TOOL).toMatchObject({ name: 'search_documents', input_schema: { type: 'object', required: ['query'] } });
    expect(SEARCH_DOCUMENTS_TOOL.input_schema.properties).toMatchObject({
      query: { type: 'string', minLength: 1, maxLength: 500 },
      limit: { type: 'integer', minimum: 1, maximum: 20 },
    });
    expect(searchDocumentsInput.parse({ query: ' acme ' })).toEqual({ query: 'acme', limit: 5 });
    expect(searchDocumentsInput.parse({ query: 'acme', limit: 20, extra: 1 })).toEqual({ query: 'acme', limit: 20 });
    expect(parseSearchDocumentsInput({ query: '' })).toEqual({ ok: false, message: 'query: must not be empty' });
    expect(parseSearchDocumentsInput({ query: 'x'.repeat(501) })).toEqual({ ok: false, message: 'query: must be at most 500 characters' });
    expect(parseSearchDocumentsInput({ query: 'a', limit: 21 })).toEqual({ ok: false, message: 'limit: must be at most 20' });
    expect(parseSearchDocumentsInput({ query: 'a', limit: 1.5 })).toEqual({ ok: false, message: 'limit: must be a whole number' });
    expect(parseSearchDocumentsInput(undefined)).toMatchObject({ ok: false });
  });

  test('as a ToolSource: lists the tool, searches, refuses bad input', async () => {
    const source = documentSearchToolSource(createDocumentSearch({ dir: CORPUS }));
    expect(await source.list()).toEqual([SEARCH_DOCUMENTS_TOOL]);
    const text = await source.call('search_documents', { query: 'Cohere Harbor pricing', limit: 2 }, ctx);
    expect(text).toMatch(/^2 results for "Cohere Harbor pricing":\n1\. cohere\/products\.md \(score \d+\.\d\)\n {3}/);
    expect(text).toContain('$45 per seat per month');
    const bad = await failureOf(source.call('search_documents', { query: 7 }, ctx));
    expect(bad).toMatchObject({ type: 'ToolInputError', nonRetryable: true, message: 'search_documents: query: must be a string' });
    expect(await failureOf(source.call('other', {}, ctx))).toMatchObject({ type: 'ToolInputError' });
    await source.close?.();
  });
});
