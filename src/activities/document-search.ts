/**
 * Full-text ranked search over one documents folder (DOCUMENTS_DIR), for agents' `search_documents`
 * tool, and reads of its documents by name (for `read_document`).
 *
 * - **What is indexed:** every `.md` / `.txt` file under the folder, recursively (hidden files and
 *   folders skipped, symlinked folders not followed, a symlinked file only when it resolves inside
 *   the folder, files over {@link MAX_DOCUMENT_BYTES} skipped; a README at the top describes the
 *   folder and is not indexed, though `read` reads it). Names are relative to the folder,
 *   with forward slashes: `acme/overview.md`.
 * - **By passage:** each document is split into passages (its sections and paragraphs, at most
 *   {@link PASSAGE_CHARS} characters), so a hit is a short excerpt, not a whole file. Fields: the
 *   document's title (first heading, else the file name; boosted 3×), the passage's section
 *   heading (1.5×), the document's name (its folder and file words, 1.5×) and the passage's text.
 *   Search is BM25 (MiniSearch), terms OR-combined, common English words dropped, prefix search
 *   for terms of 3+ letters and fuzzy (0.2 of the term's length) for terms of 5+.
 * - **Lazily, and kept fresh:** the index is built on first use and updated when the folder's file
 *   list, sizes or modification times change, checked at most once per second (only changed files
 *   are read again).
 * - **Nothing outside the folder is read:** names with `..`, absolute paths and symlinks resolving
 *   outside are refused (non-retryable `ToolInputError`), as `allowedFile` does for DOCUMENT_ROOTS.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import MiniSearch from 'minisearch';
import { SEARCH_DEFAULT_LIMIT, SEARCH_DOCUMENTS_TOOL, SEARCH_MAX_LIMIT, parseSearchDocumentsInput } from '../core/tools/search';
import type { ToolSource } from './tool-source';

/** Longest passage (and so excerpt) of a hit, in characters. */
export const PASSAGE_CHARS = 600;
/** Larger files are neither indexed nor read. */
export const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;
/** Most files indexed from one folder. */
export const MAX_DOCUMENTS = 10_000;
/** Most passages of one document among the hits of a search. */
export const MAX_HITS_PER_DOCUMENT = 2;
/** How often at most the folder is checked for changes, in ms. */
export const RECHECK_MS = 1000;

const INDEXED = /\.(md|markdown|txt)$/i;
/** The folder's own README (at its top level) describes the folder: readable, not indexed. */
const FOLDER_README = /^readme\.(md|markdown|txt)$/i;

/** One ranked passage. */
export interface SearchHit {
  /** The document's name relative to the folder, with forward slashes (what `read` takes). */
  name: string;
  /** The document's title: its first heading, else its file name without the extension. */
  title: string;
  /** The heading of the passage's section, when it has one other than the title. */
  section?: string;
  /** BM25 relevance (higher is better; comparable within one search only). */
  score: number;
  /** The passage, whitespace collapsed, at most {@link PASSAGE_CHARS} characters. */
  excerpt: string;
}

/** A search over one folder (see the module comment). */
export interface DocumentSearch {
  /** The folder (absolute). */
  readonly dir: string;
  /** The best passages for `query`, best first: at most `limit` (1–20, default 5), at most 2 per document. */
  search(query: string, limit?: number): Promise<SearchHit[]>;
  /** The text of one document by its name relative to the folder; a bad name fails non-retryably (`ToolInputError`). */
  read(name: string): Promise<string>;
  /** The names of the indexed documents, sorted. */
  documents(): Promise<string[]>;
  /** Drops the index (a later call builds it again). */
  close(): void;
}

export interface DocumentSearchOptions {
  /** The folder to search (resolved against the working directory). */
  dir: string;
  /** How often at most the folder is checked for changes (ms, default {@link RECHECK_MS}; 0: on every call). */
  recheckMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** A section or paragraph run of a document, as indexed. */
interface Passage {
  id: number;
  name: string;
  title: string;
  section?: string;
  text: string;
  /** Its position in the document (ties rank in document order). */
  index: number;
}

interface IndexedFile {
  /** mtime and size when read. */
  signature: string;
  ids: number[];
}

interface ListedFile {
  name: string;
  real: string;
  signature: string;
}

const STOP_WORDS = new Set('a an and are as at be but by for from has have in into is it its of on or that the their this to was were will with'.split(' '));

/** Index and query terms: lower-cased, common English words dropped. */
function processTerm(term: string): string | null {
  const t = term.toLowerCase();
  return t === '' || STOP_WORDS.has(t) ? null : t;
}

/** True when `p` is `root` or inside it (both absolute and normalised). */
function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function collapse(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** At most `max` characters, cut at a word boundary with an ellipsis. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

/** A block's text without Markdown's block markers that carry no meaning in an excerpt. */
function plain(block: string): string {
  return collapse(
    block
      .split('\n')
      .map((l) => l.replace(/^\s{0,3}>\s?/, ''))
      .join('\n')
      .replace(/\*\*|__/g, ''),
  );
}

/** Pieces of at most `max` characters: whole sentences where they fit, else words. */
function pieces(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let cur = '';
  for (const sentence of text.split(/(?<=[.!?])\s+/)) {
    const parts = sentence.length <= max ? [sentence] : sentence.split(' ');
    for (const part of parts) {
      const next = cur ? `${cur} ${part}` : part;
      if (next.length <= max) cur = next;
      else {
        if (cur) out.push(cur);
        cur = part.length <= max ? part : clip(part, max);
      }
    }
  }
  if (cur) out.push(cur);
  return out;
}

/**
 * A document's title and passages: its sections (Markdown headings) split into runs of paragraphs
 * of at most `max` characters (a longer paragraph split at sentences). Exported for tests.
 */
export function splitPassages(text: string, fallbackTitle: string, max = PASSAGE_CHARS): { title: string; passages: { section?: string; text: string }[] } {
  let title: string | undefined;
  let section: string | undefined;
  const passages: { section?: string; text: string }[] = [];
  let run = '';
  const flush = () => {
    if (run) passages.push({ ...(section !== undefined ? { section } : {}), text: run });
    run = '';
  };
  const blocks = text
    .replace(/\r\n?/g, '\n')
    .replace(/<!--[\s\S]*?-->/g, '')
    .split(/\n\s*\n/);
  for (const raw of blocks) {
    // A heading may sit directly on top of its first paragraph.
    const lines = raw.split('\n');
    let start = 0;
    while (start < lines.length) {
      const m = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[start]);
      if (!m) break;
      flush();
      const heading = collapse(m[1]);
      if (title === undefined) title = heading;
      else section = heading;
      start++;
    }
    const body = plain(lines.slice(start).join('\n'));
    if (!body) continue;
    for (const piece of pieces(body, max)) {
      if (run && run.length + 1 + piece.length > max) flush();
      run = run ? `${run} ${piece}` : piece;
    }
  }
  flush();
  return { title: title ?? fallbackTitle, passages };
}

/** `acme/q3-notes.md` → `acme q3 notes`: the words of a document's name, indexed too. */
function nameWords(name: string): string {
  return name.replace(INDEXED, '').replace(/[/_.-]+/g, ' ');
}

/** Builds a search over `dir` (nothing is read before the first call). */
export function createDocumentSearch(options: DocumentSearchOptions): DocumentSearch {
  const dir = path.resolve(options.dir);
  const recheckMs = options.recheckMs ?? RECHECK_MS;
  const now = options.now ?? Date.now;

  const newIndex = () =>
    new MiniSearch<Passage>({
      fields: ['title', 'section', 'name', 'text'],
      extractField: (p, field) => (field === 'name' ? nameWords(p.name) : p[field as keyof Passage]),
      processTerm,
      searchOptions: {
        boost: { title: 3, section: 1.5, name: 1.5 },
        prefix: (term) => term.length >= 3,
        fuzzy: (term) => (term.length >= 5 ? 0.2 : false),
        combineWith: 'OR',
      },
    });
  let index = newIndex();
  let files = new Map<string, IndexedFile>();
  let passages = new Map<number, Passage>();
  let nextId = 1;
  let checkedAt: number | undefined;
  let refreshing: Promise<void> | undefined;
  /** Bumped by close(): a refresh in flight then stops instead of filling the new index. */
  let generation = 0;

  const folderFailure = (err: unknown) =>
    ApplicationFailure.nonRetryable(`search_documents: cannot read the documents folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'ToolError');

  /** The indexable files under the folder, sorted by name. */
  async function listFiles(): Promise<ListedFile[]> {
    let realRoot: string;
    try {
      realRoot = await fs.realpath(dir);
      if (!(await fs.stat(realRoot)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    } catch (err) {
      throw folderFailure(err);
    }
    const out: ListedFile[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(rel ? path.join(realRoot, rel) : realRoot, { withFileTypes: true });
      } catch (err) {
        if (rel === '') throw folderFailure(err);
        return; // A sub-folder removed meanwhile, or unreadable: skipped.
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (out.length >= MAX_DOCUMENTS) return;
        if (e.name.startsWith('.')) continue;
        const name = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          await walk(name);
          continue;
        }
        if (!INDEXED.test(e.name) || (rel === '' && FOLDER_README.test(e.name)) || !(e.isFile() || e.isSymbolicLink())) continue;
        try {
          const real = await fs.realpath(path.join(realRoot, name));
          const st = await fs.stat(real);
          if (!st.isFile() || st.size > MAX_DOCUMENT_BYTES || !inside(realRoot, real)) continue;
          out.push({ name, real, signature: `${st.mtimeMs}:${st.size}` });
        } catch {
          // A dangling symlink, or a file removed meanwhile: skipped.
        }
      }
    };
    await walk('');
    return out;
  }

  /** Brings the index up to date with the folder: only new or changed files are read. */
  async function refresh(): Promise<void> {
    const gen = generation;
    const listed = await listFiles();
    if (gen !== generation) return;
    const seen = new Set<string>();
    const discard = (name: string) => {
      const old = files.get(name);
      if (!old) return;
      index.discardAll(old.ids);
      for (const id of old.ids) passages.delete(id);
      files.delete(name);
    };
    for (const f of listed) {
      seen.add(f.name);
      if (files.get(f.name)?.signature === f.signature) continue;
      discard(f.name);
      let text: string;
      try {
        text = await fs.readFile(f.real, 'utf8');
      } catch {
        continue; // Removed since it was listed: the next check sees it gone.
      }
      if (gen !== generation) return;
      const doc = splitPassages(text, path.posix.basename(f.name).replace(INDEXED, ''));
      const added = doc.passages.map((p, i): Passage => ({
        id: nextId++,
        name: f.name,
        title: doc.title,
        ...(p.section && p.section !== doc.title ? { section: p.section } : {}),
        text: p.text,
        index: i,
      }));
      index.addAll(added);
      for (const p of added) passages.set(p.id, p);
      files.set(f.name, { signature: f.signature, ids: added.map((p) => p.id) });
    }
    for (const name of [...files.keys()]) if (!seen.has(name)) discard(name);
    checkedAt = now();
  }

  /** Refreshes when the last check is older than recheckMs; concurrent callers share one refresh. */
  async function fresh(): Promise<void> {
    if (refreshing) return refreshing;
    if (checkedAt !== undefined && now() - checkedAt < recheckMs) return;
    refreshing = refresh().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function search(query: string, limit = SEARCH_DEFAULT_LIMIT): Promise<SearchHit[]> {
    const n = Number.isFinite(limit) ? Math.max(1, Math.min(SEARCH_MAX_LIMIT, Math.floor(limit))) : SEARCH_DEFAULT_LIMIT;
    await fresh();
    const ranked = index
      .search(query)
      .map((r) => ({ p: passages.get(r.id as number), score: r.score }))
      .filter((r): r is { p: Passage; score: number } => r.p !== undefined)
      .sort((a, b) => b.score - a.score || (a.p.name < b.p.name ? -1 : a.p.name > b.p.name ? 1 : a.p.index - b.p.index));
    const perDocument = new Map<string, number>();
    const hits: SearchHit[] = [];
    for (const { p, score } of ranked) {
      if (hits.length >= n) break;
      const count = perDocument.get(p.name) ?? 0;
      if (count >= MAX_HITS_PER_DOCUMENT) continue;
      perDocument.set(p.name, count + 1);
      hits.push({ name: p.name, title: p.title, ...(p.section ? { section: p.section } : {}), score, excerpt: clip(p.text, PASSAGE_CHARS) });
    }
    return hits;
  }

  async function read(name: string): Promise<string> {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name) : String(name);
    const refuse = (why: string) => ApplicationFailure.nonRetryable(`read_document: ${shown} ${why}`, 'ToolInputError');
    if (typeof name !== 'string' || name.trim() === '') throw refuse('is not a document name');
    if (name.includes('\0')) throw refuse('is not a document name (it contains a NUL character)');
    if (path.isAbsolute(name) || path.win32.isAbsolute(name))
      throw refuse(`is an absolute path: give a name relative to the documents folder (${dir}), e.g. one search_documents returned`);
    if (name.split(/[\\/]+/).includes('..')) throw refuse(`leaves the documents folder (${dir}): ".." is not allowed`);
    const candidate = path.resolve(dir, name.replace(/\\/g, '/'));
    if (!inside(dir, candidate)) throw refuse(`is outside the documents folder (${dir})`);
    let real: string;
    let realRoot: string;
    try {
      realRoot = await fs.realpath(dir);
    } catch (err) {
      throw folderFailure(err);
    }
    try {
      real = await fs.realpath(candidate);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw refuse(code === 'ENOENT' ? 'is not a document of the documents folder (search_documents lists names)' : `cannot be read: ${code ?? (err as Error).message}`);
    }
    if (!inside(realRoot, real)) throw refuse(`resolves (through a symlink) outside the documents folder (${dir})`);
    try {
      const st = await fs.stat(real);
      if (!st.isFile()) throw refuse('is not a file');
      if (st.size > MAX_DOCUMENT_BYTES) throw refuse(`is larger than ${MAX_DOCUMENT_BYTES} bytes`);
      return await fs.readFile(real, 'utf8');
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      throw refuse(`cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  return {
    dir,
    search,
    read,
    async documents() {
      await fresh();
      return [...files.keys()].sort();
    },
    close() {
      generation++;
      refreshing = undefined;
      index = newIndex();
      files = new Map();
      passages = new Map();
      checkedAt = undefined;
    },
  };
}

/** Longest query quoted in a result's header. */
const QUERY_SHOWN_CHARS = 120;

/**
 * The tool_result text of a search: `3 results for "acme pricing":`, then one numbered entry per
 * hit (`1. acme/overview.md (score 7.1)` and its excerpt, indented, after its section heading if
 * any); `No documents match "…".` when there are none.
 */
export function formatSearchHits(query: string, hits: readonly SearchHit[]): string {
  const q = clip(collapse(query), QUERY_SHOWN_CHARS);
  if (hits.length === 0) return `No documents match "${q}".`;
  const lines = [`${hits.length} result${hits.length === 1 ? '' : 's'} for "${q}":`];
  hits.forEach((h, i) => {
    lines.push(`${i + 1}. ${h.name} (score ${h.score.toFixed(1)})`, `   ${h.section ? `${h.section}: ` : ''}${h.excerpt}`);
  });
  return lines.join('\n');
}

/**
 * The `search_documents` tool as a ToolSource over one DocumentSearch: validates the model's input
 * (a bad one fails non-retryably as `ToolInputError`), searches, and returns formatSearchHits.
 */
export function documentSearchToolSource(docs: DocumentSearch): ToolSource {
  let missing: string | undefined;
  return {
    label: 'documents',
    async list() {
      // A folder that is not there offers no tool: runs naming it fail before any call, saying why.
      const dir = await fs.stat(docs.dir).catch(() => undefined);
      missing = dir?.isDirectory() ? undefined : `the documents folder ${docs.dir} (DOCUMENTS_DIR) does not exist`;
      return missing ? [] : [SEARCH_DOCUMENTS_TOOL];
    },
    unavailable: (name) => (name === SEARCH_DOCUMENTS_TOOL.name ? missing : undefined),
    async call(name, input, ctx) {
      if (name !== SEARCH_DOCUMENTS_TOOL.name) throw ApplicationFailure.nonRetryable(`documents: no tool named ${name}`, 'ToolInputError');
      const parsed = parseSearchDocumentsInput(input);
      if (!parsed.ok) throw ApplicationFailure.nonRetryable(`search_documents: ${parsed.message}`, 'ToolInputError');
      ctx.heartbeat();
      return formatSearchHits(parsed.value.query, await docs.search(parsed.value.query, parsed.value.limit));
    },
    async close() {
      docs.close();
    },
  };
}
