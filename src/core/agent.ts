/**
 * The agent loop's pure parts: the tools an agent may be given (their definitions, sent to the
 * model as they are), the agent's input schema and its result. Pure: bundled into workflow code.
 */
import { z } from 'zod';
import { maxTokensSchema, nonEmptyString, plainString, wholeNumber } from './schema';
import { parseOrThrow } from './tasks';
import { SEARCH_DOCUMENTS_TOOL } from './tools/search';
import { DEFAULT_AGENT_TURNS, MAX_AGENT_TURNS, toolNamesSchema } from './agent-options';

export { DEFAULT_AGENT_TURNS, MAX_AGENT_TURNS, TOOL_NAME_PATTERN, agentOptionsSchema, type AgentOptions } from './agent-options';

/** A tool as the Messages API takes it (`input_schema`: a JSON Schema whose root is an object). */
export interface AgentToolSpec {
  name: string;
  description: string;
  input_schema: { type: 'object'; properties?: Record<string, unknown>; required?: string[]; [k: string]: unknown };
}

/** Statistics over inline documents (words, sentences, vocabulary, top terms, top bigrams). */
export const DOCUMENT_STATS_TOOL: AgentToolSpec = {
  name: 'document_stats',
  description: 'Compute statistics of documents: word and sentence counts, vocabulary size, top terms and top bigrams.',
  input_schema: {
    type: 'object',
    properties: {
      documents: {
        type: 'array',
        minItems: 1,
        maxItems: 20,
        items: { type: 'object', properties: { name: { type: 'string', minLength: 1 }, text: { type: 'string' } }, required: ['name', 'text'] },
      },
      topTerms: { type: 'integer', minimum: 1, maximum: 100 },
    },
    required: ['documents'],
  },
};

/** Reads one document from the folders the tools worker may read (DOCUMENT_ROOTS). */
export const READ_DOCUMENT_TOOL: AgentToolSpec = {
  name: 'read_document',
  description: 'Read one document (a text file) by its name.',
  input_schema: { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] },
};

/** The tools every tools worker offers, by name (user tools and MCP tools come from the worker: see src/activities/tool-registry.ts). */
export const BUILT_IN_TOOLS: Readonly<Record<string, AgentToolSpec>> = {
  [SEARCH_DOCUMENTS_TOOL.name]: SEARCH_DOCUMENTS_TOOL,
  [DOCUMENT_STATS_TOOL.name]: DOCUMENT_STATS_TOOL,
  [READ_DOCUMENT_TOOL.name]: READ_DOCUMENT_TOOL,
};

/** The input of the `agent` workflow. */
export const agentInputSchema = z.object({
  prompt: nonEmptyString(),
  system: plainString().optional(),
  tools: toolNamesSchema,
  maxTurns: wholeNumber(1, MAX_AGENT_TURNS).default(DEFAULT_AGENT_TURNS),
  model: nonEmptyString().optional(),
  maxTokens: maxTokensSchema.optional(),
  /** Stop (stoppedBy 'budget') before a turn once this many tokens (input + output) are spent. */
  maxTotalTokens: wholeNumber(1).optional(),
  timeoutMs: wholeNumber([100, '100 ms'], [3_600_000, '1 hour']).optional(),
  maxAttempts: wholeNumber(1, 100).optional(),
  throttleDeadlineMs: wholeNumber([1000, '1000 ms'], [7 * 86_400_000, '7 days']).optional(),
  tenant: nonEmptyString(64).optional(),
  llmTaskQueue: nonEmptyString().optional(),
  toolTaskQueue: nonEmptyString().optional(),
  /** Stream each turn's text while it arrives (see the README's Streaming); off by default. */
  stream: z.boolean().optional(),
  /** The workflow whose stream channel gets the text (a parent run's root); default this agent's own. */
  streamTo: nonEmptyString(200).optional(),
  /** Prefix of the turns' stream call ids (`<streamId>#<turn>`); default `agent`. */
  streamId: nonEmptyString(200).optional(),
  /** Continue as new once the history is this big (bytes; default AGENT_HISTORY_BYTES), carrying the conversation. */
  historyBytesLimit: wholeNumber(10_000, 40_000_000).optional(),
  /** Internal: the state a continued run carries over (the conversation, turns so far, tools). */
  carried: z.custom<AgentCarry>((v) => typeof v === 'object' && v !== null && Array.isArray((v as AgentCarry).messages)).optional(),
});
export type AgentInput = z.input<typeof agentInputSchema>;
export type ParsedAgentInput = z.output<typeof agentInputSchema>;

/** Validates an agent's input; throws InvalidInputError naming every problem. */
export function parseAgentInput(input: unknown): ParsedAgentInput {
  return parseOrThrow(agentInputSchema, input, 'agent input');
}

/**
 * History bytes after which an agent continues as new, carrying its conversation: Temporal warns
 * at 10 MB and terminates at 50 MB, and every turn's input repeats the conversation so far.
 */
export const AGENT_HISTORY_BYTES = 4_000_000;

/** What an agent run carries into the run it continues as (plain JSON). */
export interface AgentCarry {
  messages: unknown[];
  turns: AgentTurnRecord[];
  tokens: { input: number; output: number };
  costUsd?: number;
  text: string;
  tools: AgentToolSpec[];
  /** Runs so far (1 in the first continued run). */
  continued: number;
}

/** Why an agent run stopped. */
export type AgentStop = 'end-turn' | 'max-turns' | 'budget' | 'cancelled' | 'failed';

/** One tool call of a turn. */
export interface AgentToolCallRecord {
  name: string;
  id: string;
  isError: boolean;
  durationMs: number;
  /** The failure's message when isError. */
  error?: string;
}

/** One model turn and the tool calls it asked for. */
export interface AgentTurnRecord {
  turn: number;
  tokens: { input: number; output: number };
  toolCalls: AgentToolCallRecord[];
  /** The model call's duration (the tools' are in toolCalls). */
  durationMs: number;
  stopReason: string | null;
}

/** The result of the `agent` workflow. */
export interface AgentResult {
  /** The text of the last turn that had text ('' when none had). */
  text: string;
  stoppedBy: AgentStop;
  turns: AgentTurnRecord[];
  tokens: { input: number; output: number };
  /** Estimated USD cost of every turn (turns of unpriced models count 0). */
  costUsd?: number;
  /** Why the run failed (stoppedBy 'failed'). */
  error?: string;
  errorType?: string;
  /** How many times the run continued as new (its conversation carried over). */
  continued?: number;
}
