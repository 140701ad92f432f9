/**
 * What makes a task an agent, as specs write it (`"agent": { "tools": [...], "maxTurns": 6 }` on a
 * DAG node, fan-out task or pipeline task), and tool-name syntax. Pure: bundled into workflow code.
 */
import { z } from 'zod';
import { listOf, nonEmptyString, plainString, wholeNumber } from './schema';

/** Most model turns of one agent (a longer conversation continues as new: see the agent workflow). */
export const MAX_AGENT_TURNS = 50;
/** Model turns unless the input sets maxTurns. */
export const DEFAULT_AGENT_TURNS = 6;

/** A tool's name as the Messages API accepts it (MCP tools are named `mcp__<server>__<tool>`). */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Tool names of an agent: syntax here; whether the tools worker offers them is checked by `describeAgentTools` before any LLM call. */
export const toolNamesSchema = listOf(nonEmptyString(), 'tool names').refine((names) => names.every((n) => TOOL_NAME_PATTERN.test(n)), {
  error: (issue) =>
    `tool names must match ${TOOL_NAME_PATTERN} (got ${(issue.input as string[])
      .filter((n) => !TOOL_NAME_PATTERN.test(n))
      .map((n) => JSON.stringify(n))
      .join(', ')})`,
});

/** What makes a DAG node, fan-out task or pipeline task an agent: `{ "agent": { "tools": [...], "maxTurns"?: 6 } }`. */
export const agentOptionsSchema = z.object({
  tools: toolNamesSchema,
  maxTurns: wholeNumber(1, MAX_AGENT_TURNS).optional(),
  /** The agent's system prompt (default: the node's `system`). */
  system: plainString().optional(),
});
export type AgentOptions = z.infer<typeof agentOptionsSchema>;
