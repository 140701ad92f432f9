/**
 * The agent loop's pure parts: the tools an agent may be given (their definitions, sent to the
 * model as they are), the agent's input schema and its result. Pure: bundled into workflow code.
 */
import { z } from 'zod';
import { listOf, maxTokensSchema, nonEmptyString, plainString, wholeNumber } from './schema';
import { parseOrThrow } from './tasks';

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

/** Every tool an agent may be given, by name. */
export const AGENT_TOOLS: Readonly<Record<string, AgentToolSpec>> = {
  [DOCUMENT_STATS_TOOL.name]: DOCUMENT_STATS_TOOL,
  [READ_DOCUMENT_TOOL.name]: READ_DOCUMENT_TOOL,
};

/** Names of the known tools. */
export const AGENT_TOOL_NAMES = Object.keys(AGENT_TOOLS);

/** Most model turns of one agent run (its history stays far from Temporal's limits; see the workflow). */
export const MAX_AGENT_TURNS = 50;
/** Model turns unless the input sets maxTurns. */
export const DEFAULT_AGENT_TURNS = 6;

/** The input of the `agent` workflow. */
export const agentInputSchema = z.object({
  prompt: nonEmptyString(),
  system: plainString().optional(),
  tools: listOf(nonEmptyString(), 'tool names').refine((names) => names.every((n) => Object.hasOwn(AGENT_TOOLS, n)), {
    error: (issue) => {
      const unknown = (issue.input as string[]).filter((n) => !Object.hasOwn(AGENT_TOOLS, n));
      return `unknown tool${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${AGENT_TOOL_NAMES.join(', ')})`;
    },
  }),
  maxTurns: wholeNumber(1, MAX_AGENT_TURNS).default(DEFAULT_AGENT_TURNS),
  model: nonEmptyString().optional(),
  maxTokens: maxTokensSchema.optional(),
  llmTaskQueue: nonEmptyString().optional(),
  toolTaskQueue: nonEmptyString().optional(),
});
export type AgentInput = z.input<typeof agentInputSchema>;
export type ParsedAgentInput = z.output<typeof agentInputSchema>;

/** Validates an agent's input; throws InvalidInputError naming every problem. */
export function parseAgentInput(input: unknown): ParsedAgentInput {
  return parseOrThrow(agentInputSchema, input, 'agent input');
}

/** The definitions sent to the model for the given (validated) names. */
export function agentToolSpecs(names: string[]): AgentToolSpec[] {
  return [...new Set(names)].map((n) => AGENT_TOOLS[n]);
}

/** Why an agent run stopped. */
export type AgentStop = 'end-turn' | 'max-turns' | 'cancelled' | 'failed';

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
  /** Why the run failed (stoppedBy 'failed'). */
  error?: string;
  errorType?: string;
}
