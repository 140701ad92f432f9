/**
 * Tool activities: blocking or CPU-heavy work that must never stall LLM calls. They run on their
 * own task queue with their own concurrency limit, and the CPU work itself runs in a worker
 * thread, so the worker's event loop keeps heartbeating and answering LLM requests meanwhile.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { AgentToolSpec } from '../core/agent';
import type { ToolCall } from '../core/dag';
import { computeDocumentStats, documentStatsText, type DocumentStats } from '../core/doc-stats';
import { builtInToolSource } from './agent-tools';
import { createDocumentSearch, documentSearchToolSource } from './document-search';
import { ToolRegistry, type AgentToolInput, type AgentToolOutput } from './tool-registry';
import type { ToolSource } from './tool-source';

/** What a tool returns. */
export interface ToolResult {
  text: string;
  stats: DocumentStats;
  durationMs: number;
}

/** Runs computeDocumentStats in a worker thread; the thread gets the function's source. */
function statsInThread(docs: { name: string; text: string }[], topN: number, signal: AbortSignal): Promise<DocumentStats> {
  // Under tsx (esbuild keepNames) the function's source calls a `__name` helper that exists only
  // in the parent module; the shim makes the source self-contained under any transpiler.
  const source = `const { parentPort, workerData } = require('node:worker_threads');
var __name = (target) => target;
const computeDocumentStats = ${computeDocumentStats.toString()};
parentPort.postMessage(computeDocumentStats(workerData.docs, workerData.topN));`;
  return new Promise((resolve, reject) => {
    const thread = new Worker(source, { eval: true, workerData: { docs, topN } });
    const abort = () => void thread.terminate();
    signal.addEventListener('abort', abort, { once: true });
    thread.once('message', (m: DocumentStats) => resolve(m));
    thread.once('error', reject);
    thread.once('exit', (code) => {
      signal.removeEventListener('abort', abort);
      if (code !== 0) reject(signal.aborted ? new Error('tool cancelled') : new Error(`tool thread exited with code ${code}`));
    });
  });
}

/** What tool activities need. */
export interface ToolDeps {
  /** Where run artifacts (reports, timelines) are written: <runsDir>/<workflowId>/<file>. */
  runsDir: string;
  /**
   * The only folders tools may read files from (DOCUMENT_ROOTS); relative paths resolve against
   * the first. Anyone who can start a run chooses the paths, so nothing else is readable.
   */
  documentRoots: string[];
  /**
   * Tool sources besides the built-in tools: tools a user registers through AgentsPlugin and MCP
   * servers (their owner closes them).
   */
  toolSources?: ToolSource[];
  /**
   * The folder `search_documents` searches (DOCUMENTS_DIR); unset, the tool is not offered.
   * read_document reads it too: names resolve against it first, then against documentRoots.
   */
  documentsDir?: string;
}

/** True when `p` is `root` or inside it (both absolute and normalised). */
function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The real path of a file a run asked for, if it lies under an allowed root: checked on the path
 * as written (`..` resolved) before touching the file system, and again after resolving symlinks.
 * Anything else fails non-retryably, naming the allowed roots.
 */
export async function allowedFile(file: string, roots: string[], tool = 'document-stats'): Promise<string> {
  const refuse = () =>
    ApplicationFailure.nonRetryable(`${tool}: ${file} is outside the folders tools may read (${roots.join(', ')}); set DOCUMENT_ROOTS to allow others`, 'ToolInputError');
  if (roots.length === 0) throw refuse();
  const candidate = path.resolve(roots[0], file);
  if (!roots.some((r) => inside(path.resolve(r), candidate))) throw refuse();
  let real: string;
  try {
    real = await fs.realpath(candidate);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`${tool}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'ToolInputError');
  }
  const realRoots = await Promise.all(roots.map((r) => fs.realpath(r).catch(() => path.resolve(r))));
  if (!realRoots.some((r) => inside(r, real))) throw refuse();
  return real;
}

/** A folder or file name from a run's input that stays one level under its parent. */
function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]+/g, '_');
  // '.', '..' (and hidden names) would point at the parent or hide the file.
  return s === '' || s.startsWith('.') ? `_${s}` : s;
}

/** Builds the tool activities. */
export function createToolActivities(deps: ToolDeps) {
  /** Writes one artifact of a run (e.g. report.md) and returns its absolute path. */
  async function writeRunFile(input: { workflowId: string; file: string; content: string }): Promise<string> {
    // Workflow ids may contain '/' or be '..': nothing may escape the runs directory.
    const dir = path.join(deps.runsDir, safeName(input.workflowId));
    const target = path.join(dir, safeName(path.basename(input.file)));
    if (!inside(path.resolve(deps.runsDir), path.resolve(dir)) || path.dirname(path.resolve(target)) !== path.resolve(dir)) {
      throw ApplicationFailure.nonRetryable(`writeRunFile: ${input.workflowId}/${input.file} would be written outside ${deps.runsDir}`, 'ToolInputError');
    }
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(target, input.content, 'utf8');
    return path.resolve(target);
  }

  /** Reads documents (inline or from local files) and computes statistics off the event loop. */
  async function documentStats(call: ToolCall): Promise<ToolResult> {
    const ctx = Context.current();
    const started = Date.now();
    const beat = setInterval(() => ctx.heartbeat(), 1000);
    try {
      const docs = [...(call.documents ?? [])];
      for (const file of call.files ?? []) {
        const real = await allowedFile(file, deps.documentRoots);
        try {
          docs.push({ name: file, text: await fs.readFile(real, 'utf8') });
        } catch (err) {
          throw ApplicationFailure.nonRetryable(`document-stats: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'ToolInputError');
        }
      }
      const stats = await statsInThread(docs, call.topTerms ?? 15, ctx.cancellationSignal);
      return { text: documentStatsText(stats), stats, durationMs: Date.now() - started };
    } finally {
      clearInterval(beat);
    }
  }
  const readRoots = [...(deps.documentsDir ? [path.resolve(deps.documentsDir)] : []), ...deps.documentRoots];
  /** Reads one document an agent asked for, inside the allowed roots (a relative name: the first root where it exists). */
  async function readDocument(name: string): Promise<string> {
    let failure: unknown;
    for (const root of path.isAbsolute(name) ? readRoots.slice(0, 1) : readRoots) {
      try {
        const real = await allowedFile(name, [root, ...readRoots.filter((r) => r !== root)], 'read_document');
        return await fs.readFile(real, 'utf8');
      } catch (err) {
        failure ??=
          err instanceof ApplicationFailure
            ? err
            : ApplicationFailure.nonRetryable(`read_document: cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'ToolInputError');
      }
    }
    throw failure ?? ApplicationFailure.nonRetryable(`read_document: no folder to read ${name} from`, 'ToolInputError');
  }
  const search = deps.documentsDir ? documentSearchToolSource(createDocumentSearch({ dir: deps.documentsDir })) : undefined;
  const registry = new ToolRegistry([builtInToolSource({ documentStats, readDocument }), ...(search ? [search] : []), ...(deps.toolSources ?? [])]);

  /** The definitions of the tools a run's agents name (an unknown name fails with type UnknownTool). */
  async function describeAgentTools(input: { names: string[] }): Promise<AgentToolSpec[]> {
    return registry.describe(input.names);
  }

  /** Runs one tool call of an agent's turn, heartbeating meanwhile (cancellation arrives with a heartbeat's answer). */
  async function runAgentTool(call: AgentToolInput): Promise<AgentToolOutput> {
    const ctx = Context.current();
    const started = Date.now();
    const beat = setInterval(() => ctx.heartbeat(), 1000);
    try {
      const content = await registry.call(call.name, call.input, { signal: ctx.cancellationSignal, heartbeat: () => ctx.heartbeat() });
      return { content, durationMs: Date.now() - started };
    } finally {
      clearInterval(beat);
    }
  }
  return { documentStats, writeRunFile, describeAgentTools, runAgentTool };
}
