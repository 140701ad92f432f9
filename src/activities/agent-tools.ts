/**
 * The built-in agent tools (definitions in ../core/agent) as a ToolSource: each call's input is
 * checked against the tool's schema, then dispatched to its implementation. An invalid input (or
 * a tool's own refusal, e.g. a file outside DOCUMENT_ROOTS) fails non-retryably with type
 * `ToolInputError`: the workflow hands its message back to the model as an `is_error` result.
 */
import { z } from 'zod';
import { DOCUMENT_STATS_TOOL, READ_DOCUMENT_TOOL } from '../core/agent';
import type { ToolCall } from '../core/dag';
import type { ToolCallContext, ToolSource } from './tool-source';
import { invalidToolInput } from './tool-registry';

/** The implementations behind the built-in tools (the tool activities' own). */
export interface AgentToolImpls {
  documentStats(call: ToolCall): Promise<{ text: string }>;
  readDocument(name: string): Promise<string>;
}

/** One built-in tool: checks its input, then runs. */
interface BuiltInTool {
  call(name: string, input: unknown, impls: AgentToolImpls, ctx: ToolCallContext): Promise<string>;
}

/** A tool whose input must match `schema` (a mismatch is a ToolInputError naming every problem). */
function tool<T>(schema: z.ZodType<T>, run: (input: T, impls: AgentToolImpls, ctx: ToolCallContext) => Promise<string>): BuiltInTool {
  return {
    call: async (name, input, impls, ctx) => {
      const parsed = schema.safeParse(input);
      if (!parsed.success) throw invalidToolInput(name, parsed.error);
      return run(parsed.data, impls, ctx);
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

/** The document tools' implementations (search_documents is its own source: document-search.ts). */
export const BUILT_IN_IMPLS: Readonly<Record<string, BuiltInTool>> = {
  [DOCUMENT_STATS_TOOL.name]: tool(
    documentStatsInput,
    async (i, impls) => (await impls.documentStats({ name: 'document-stats', documents: i.documents, ...(i.topTerms ? { topTerms: i.topTerms } : {}) })).text,
  ),
  [READ_DOCUMENT_TOOL.name]: tool(readDocumentInput, async (i, impls) => impls.readDocument(i.name)),
};

/** The built-in tools as a source. */
export function builtInToolSource(impls: AgentToolImpls): ToolSource {
  return {
    label: 'built-in',
    list: async () => [DOCUMENT_STATS_TOOL, READ_DOCUMENT_TOOL],
    call: async (name, input, ctx) => BUILT_IN_IMPLS[name].call(name, input, impls, ctx),
  };
}
