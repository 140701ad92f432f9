/**
 * The tool registry of a tools worker: the ToolSources it was given (built-in document tools,
 * tools a user registered, MCP servers) joined under one namespace. `describeAgentTools` answers
 * the definitions of the tools a run names (an unknown name fails non-retryably, naming it and the
 * known tools, before any LLM call) and `runAgentTool` dispatches one call to its source.
 */
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import { z } from 'zod';
import type { AgentToolSpec } from '../core/agent';
import { TOOL_NAME_PATTERN } from '../core/agent';
import { formatIssues } from '../core/schema';
import type { ToolCallContext, ToolSource, UserTool } from './tool-source';

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

/** Most characters of one tool result handed to the model. */
export const MAX_TOOL_RESULT_CHARS = 50_000;

/** Cuts a tool result to MAX_TOOL_RESULT_CHARS, saying so. */
export function truncateToolResult(text: string): string {
  return text.length > MAX_TOOL_RESULT_CHARS ? `${text.slice(0, MAX_TOOL_RESULT_CHARS)}\n[truncated: ${text.length} characters]` : text;
}

/** Every source's tools under one name each. */
export class ToolRegistry {
  private index?: Promise<Map<string, { spec: AgentToolSpec; source: ToolSource }>>;

  constructor(private readonly sources: ToolSource[]) {}

  /** Lists every source once (again after a failure): a name two sources offer is an error. */
  private tools(): Promise<Map<string, { spec: AgentToolSpec; source: ToolSource }>> {
    this.index ??= (async () => {
      const lists = await Promise.all(this.sources.map(async (s) => ({ s, specs: await s.list() })));
      const map = new Map<string, { spec: AgentToolSpec; source: ToolSource }>();
      for (const { s, specs } of lists) {
        for (const spec of specs) {
          const seen = map.get(spec.name);
          if (seen) throw ApplicationFailure.nonRetryable(`tool ${spec.name} is offered by both ${seen.source.label} and ${s.label}`, 'ToolConfigError');
          map.set(spec.name, { spec, source: s });
        }
      }
      return map;
    })().catch((err: unknown) => {
      this.index = undefined;
      throw err;
    });
    return this.index;
  }

  /** The definitions of `names`, in order; unknown names fail with type UnknownTool naming all of them. */
  async describe(names: string[]): Promise<AgentToolSpec[]> {
    const tools = await this.tools();
    const unknown = names.filter((n) => !tools.has(n));
    if (unknown.length) {
      const known = [...tools.keys()].sort();
      const why = unknown.flatMap((n) =>
        this.sources
          .map((s) => s.unavailable?.(n))
          .filter((w): w is string => !!w)
          .map((w) => `${n}: ${w}`),
      );
      throw ApplicationFailure.nonRetryable(
        `unknown tool${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${known.join(', ') || 'none'})${why.length ? `; ${why.join('; ')}` : ''}`,
        'UnknownTool',
      );
    }
    return [...new Set(names)].map((n) => tools.get(n)!.spec);
  }

  /** Runs one call; the text is cut to MAX_TOOL_RESULT_CHARS. */
  async call(name: string, input: unknown, ctx: ToolCallContext): Promise<string> {
    const tool = (await this.tools()).get(name);
    if (!tool) throw ApplicationFailure.nonRetryable(`unknown tool ${name}`, 'ToolInputError');
    return truncateToolResult(await tool.source.call(name, input, ctx));
  }

  /** Closes every source (worker shutdown). */
  async close(): Promise<void> {
    await Promise.all(
      this.sources.map((s) =>
        s.close?.().catch((err: unknown) => {
          log.warn('closing a tool source failed', { source: s.label, error: (err as Error).message });
        }),
      ),
    );
  }
}

/** A ToolInputError naming every problem of an input that does not match the tool's schema. */
export function invalidToolInput(name: string, error: z.ZodError): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${name}: invalid input: ${formatIssues(error)}`, 'ToolInputError');
}

/** Checks user tools' definitions; throws naming every problem. */
export function checkUserTools(tools: UserTool[]): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, t] of tools.entries()) {
    const at = `tools[${i}]${typeof t?.name === 'string' ? ` (${t.name})` : ''}`;
    if (typeof t?.name !== 'string' || !TOOL_NAME_PATTERN.test(t.name)) problems.push(`${at}: name must match ${TOOL_NAME_PATTERN}`);
    else if (seen.has(t.name)) problems.push(`${at}: name used twice`);
    else seen.add(t.name);
    if (typeof t?.description !== 'string' || !t.description.trim()) problems.push(`${at}: needs a description`);
    if (typeof t?.run !== 'function') problems.push(`${at}: needs a run(input, ctx) function`);
    if (!t?.inputSchema || typeof t.inputSchema !== 'object' || t.inputSchema.type !== 'object') problems.push(`${at}: inputSchema must be a JSON Schema with type "object"`);
    else {
      try {
        z.fromJSONSchema(t.inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
      } catch (err) {
        problems.push(`${at}: inputSchema is not a JSON Schema zod can check (${(err as Error).message})`);
      }
    }
  }
  if (problems.length) throw new Error(`AgentsPlugin: invalid tools: ${problems.join('; ')}`);
}

/** The tools a user registers, as a source: inputs are checked against each tool's JSON Schema first. */
export function userToolSource(tools: UserTool[]): ToolSource {
  checkUserTools(tools);
  const byName = new Map(tools.map((t) => [t.name, { t, schema: z.fromJSONSchema(t.inputSchema as Parameters<typeof z.fromJSONSchema>[0]) }]));
  return {
    label: 'user tools',
    list: async () => tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema })),
    call: async (name, input, ctx) => {
      const entry = byName.get(name);
      if (!entry) throw ApplicationFailure.nonRetryable(`unknown tool ${name}`, 'ToolInputError');
      const parsed = entry.schema.safeParse(input);
      if (!parsed.success) throw invalidToolInput(name, parsed.error);
      let out: unknown;
      try {
        out = await entry.t.run(parsed.data, ctx);
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        // A user's tool that throws: the model sees the message and may try otherwise.
        throw ApplicationFailure.nonRetryable(`${name}: ${(err as Error)?.message ?? String(err)}`, 'ToolError');
      }
      return typeof out === 'string' ? out : JSON.stringify(out);
    },
  };
}
