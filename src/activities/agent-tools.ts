/**
 * The tools an agent may call (definitions in ../core/agent): `runAgentTool` validates a call's
 * input against the tool's schema and dispatches to its implementation. An invalid input (or a
 * tool's own refusal, e.g. a file outside DOCUMENT_ROOTS) fails non-retryably with type
 * `ToolInputError`: the workflow hands its message back to the model as an `is_error` result.
 */
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { AGENT_TOOLS, DOCUMENT_STATS_TOOL, READ_DOCUMENT_TOOL } from '../core/agent';
import type { ToolCall } from '../core/dag';
import { formatIssues } from '../core/schema';

/** One tool call of an agent's turn (a tool_use block's name and input). */
export interface AgentToolInput {
  name: string;
  input: unknown;
}

/** What a tool call returns: the text handed to the model as the tool_result. */
export interface AgentToolOutput {
  content: string;
  durationMs: number;
}

/** The implementations behind the built-in tools (the tool activities' own). */
export interface AgentToolImpls {
  documentStats(call: ToolCall): Promise<{ text: string }>;
  readDocument(name: string): Promise<string>;
}

/** Most characters of a document read_document hands the model. */
export const MAX_DOCUMENT_CHARS = 50_000;

/** One registered tool: checks its input, then runs. */
interface RegisteredTool {
  call(name: string, input: unknown, impls: AgentToolImpls): Promise<string>;
}

/** A tool whose input must match `schema` (a mismatch is a ToolInputError naming every problem). */
function tool<T>(schema: z.ZodType<T>, run: (input: T, impls: AgentToolImpls) => Promise<string>): RegisteredTool {
  return {
    call: async (name, input, impls) => {
      const parsed = schema.safeParse(input);
      if (!parsed.success) throw ApplicationFailure.nonRetryable(`${name}: invalid input: ${formatIssues(parsed.error)}`, 'ToolInputError');
      return run(parsed.data, impls);
    },
  };
}

const documentStatsInput = z.object({
  documents: z
    .array(z.object({ name: z.string().min(1), text: z.string() }))
    .min(1)
    .max(20),
  topTerms: z.number().int().min(1).max(100).optional(),
});

const readDocumentInput = z.object({ name: z.string().min(1) });

/** The registry: every tool of AGENT_TOOLS has an entry (checked by the unit test). */
export const AGENT_TOOL_REGISTRY: Readonly<Record<string, RegisteredTool>> = {
  [DOCUMENT_STATS_TOOL.name]: tool(
    documentStatsInput,
    async (i, impls) => (await impls.documentStats({ name: 'document-stats', documents: i.documents, ...(i.topTerms ? { topTerms: i.topTerms } : {}) })).text,
  ),
  [READ_DOCUMENT_TOOL.name]: tool(readDocumentInput, async (i, impls) => {
    const text = await impls.readDocument(i.name);
    return text.length > MAX_DOCUMENT_CHARS ? `${text.slice(0, MAX_DOCUMENT_CHARS)}\n[truncated: ${text.length} characters]` : text;
  }),
};

/** Builds `runAgentTool` around the tool implementations. */
export function createAgentToolActivities(impls: AgentToolImpls) {
  /** Runs one tool call of an agent's turn. */
  async function runAgentTool(call: AgentToolInput): Promise<AgentToolOutput> {
    const started = Date.now();
    const tool = AGENT_TOOL_REGISTRY[call.name];
    if (!tool || !Object.hasOwn(AGENT_TOOLS, call.name)) throw ApplicationFailure.nonRetryable(`unknown tool ${call.name}`, 'ToolInputError');
    const content = await tool.call(call.name, call.input, impls);
    return { content, durationMs: Date.now() - started };
  }
  return { runAgentTool };
}
