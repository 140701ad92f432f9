/** The agent's tools: definitions and registry agree, inputs are validated, document_stats wraps the stats. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { AGENT_TOOL_NAMES, agentToolSpecs, parseAgentInput } from '../../src/core/agent';
import { InvalidInputError } from '../../src/core/tasks';
import { AGENT_TOOL_REGISTRY, type AgentToolOutput } from '../../src/activities/agent-tools';
import { createToolActivities } from '../../src/activities/tools';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-tools-'));
const { runAgentTool } = createToolActivities({ runsDir: dir, documentRoots: [dir] });

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    return err as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

test('every defined tool is registered, and only those', () => {
  expect(Object.keys(AGENT_TOOL_REGISTRY).sort()).toEqual([...AGENT_TOOL_NAMES].sort());
  expect(agentToolSpecs(['read_document', 'read_document']).map((t) => t.name)).toEqual(['read_document']);
});

test('agent input: defaults, bounds, unknown tools', () => {
  expect(parseAgentInput({ prompt: 'p', tools: [] }).maxTurns).toBe(6);
  expect(() => parseAgentInput({ prompt: 'p', tools: [], maxTurns: 51 })).toThrow(InvalidInputError);
  expect(() => parseAgentInput({ prompt: 'p', tools: ['toString', 'nope'] })).toThrow(/unknown tools toString, nope/);
});

test('an invalid input is a non-retryable ToolInputError', async () => {
  const err = await failureOf(runAgentTool({ name: 'read_document', input: { name: 5 } }));
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: 'ToolInputError', nonRetryable: true, message: expect.stringContaining('read_document: invalid input: name') });
  expect(await failureOf(runAgentTool({ name: 'document_stats', input: { documents: [] } }))).toMatchObject({ type: 'ToolInputError' });
  expect(await failureOf(runAgentTool({ name: 'nope', input: {} }))).toMatchObject({ type: 'ToolInputError', message: 'unknown tool nope' });
  expect(await failureOf(runAgentTool({ name: 'read_document', input: { name: '../../etc/passwd' } }))).toMatchObject({ type: 'ToolInputError' });
});

test('document_stats and read_document return text for the model', async () => {
  const env = new MockActivityEnvironment();
  const stats: AgentToolOutput = await env.run(runAgentTool, {
    name: 'document_stats',
    input: { documents: [{ name: 'a', text: 'Retries retry. Retries back off.' }], topTerms: 2 },
  });
  expect(stats.content).toContain('Documents: a (5 words)');
  fs.writeFileSync(path.join(dir, 'n.md'), 'hello');
  expect(((await env.run(runAgentTool, { name: 'read_document', input: { name: 'n.md' } })) as AgentToolOutput).content).toBe('hello');
});
