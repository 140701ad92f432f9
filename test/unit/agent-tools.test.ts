/** The agent's tools: the registry of sources (built-in, user tools), inputs validated, document_stats wraps the stats. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { BUILT_IN_TOOLS, parseAgentInput } from '../../src/core/agent';
import { InvalidInputError } from '../../src/core/tasks';
import type { AgentToolInput, AgentToolOutput } from '../../src/activities/tool-registry';
import { ToolRegistry, userToolSource } from '../../src/activities/tool-registry';
import { createToolActivities } from '../../src/activities/tools';
import type { UserTool } from '../../src/activities/tool-source';
import { rejectionOf } from '../helpers/rejection';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-tools-'));
const corpus = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-corpus-'));
fs.mkdirSync(path.join(corpus, 'acme'));
fs.writeFileSync(path.join(corpus, 'acme', 'overview.md'), '# Acme\n\nAcme sells RocketSkates for $499.');
const shout: UserTool = {
  name: 'shout',
  description: 'Upper-cases a text.',
  inputSchema: { type: 'object', properties: { text: { type: 'string', minLength: 1 } }, required: ['text'] },
  run: async (i) => (i as { text: string }).text.toUpperCase(),
};
const acts = createToolActivities({ runsDir: dir, documentRoots: [dir], documentsDir: corpus, toolSources: [userToolSource([shout])] });
const env = new MockActivityEnvironment();
const runAgentTool = (c: AgentToolInput) => env.run(acts.runAgentTool, c) as Promise<AgentToolOutput>;

const failureOf = (p: Promise<unknown>) => rejectionOf<ApplicationFailure>(p);

test('every built-in tool is offered, with user tools beside them; names repeat once; unknown names are all named', async () => {
  const names = (await acts.describeAgentTools({ names: [...Object.keys(BUILT_IN_TOOLS), 'shout'] })).map((t) => t.name);
  expect(names.sort()).toEqual([...Object.keys(BUILT_IN_TOOLS), 'shout'].sort());
  expect((await acts.describeAgentTools({ names: ['read_document', 'read_document'] })).map((t) => t.name)).toEqual(['read_document']);
  const err = await failureOf(acts.describeAgentTools({ names: ['shout', 'toString', 'web_search'] }));
  expect(err).toMatchObject({ type: 'UnknownTool', nonRetryable: true, message: expect.stringMatching(/^unknown tools toString, web_search \(known: .*read_document.*shout/) });
  // Without DOCUMENTS_DIR the search tool is not offered.
  const bare = createToolActivities({ runsDir: dir, documentRoots: [dir] });
  expect(await failureOf(bare.describeAgentTools({ names: ['search_documents'] }))).toMatchObject({ type: 'UnknownTool' });
  // A DOCUMENTS_DIR that does not exist: the tool is not offered, and the failure says why.
  const missing = createToolActivities({ runsDir: dir, documentRoots: [dir], documentsDir: path.join(dir, 'no-such-folder') });
  expect(await failureOf(missing.describeAgentTools({ names: ['search_documents'] }))).toMatchObject({
    type: 'UnknownTool',
    message: expect.stringContaining(`search_documents: the documents folder ${path.join(dir, 'no-such-folder')} (DOCUMENTS_DIR) does not exist`),
  });
});

test('two sources offering one name is an error naming both', async () => {
  const registry = new ToolRegistry([userToolSource([shout]), { ...userToolSource([shout]), label: 'other' }]);
  expect(await failureOf(registry.describe(['shout']))).toMatchObject({ type: 'ToolConfigError', message: 'tool shout is offered by both user tools and other' });
});

test('user tools: definitions checked up front, inputs against their JSON Schema, a throw reaches the model', async () => {
  expect(() =>
    userToolSource([
      { ...shout, name: 'has space' },
      { ...shout, description: '' },
      { ...shout, inputSchema: { type: 'array' } as never },
    ]),
  ).toThrow(
    /tools\[0\] \(has space\): name must match .*; tools\[1\] \(shout\): needs a description; tools\[2\] \(shout\): .*inputSchema must be a JSON Schema with type "object"/,
  );
  expect((await runAgentTool({ name: 'shout', input: { text: 'hi' } })).content).toBe('HI');
  expect(await failureOf(runAgentTool({ name: 'shout', input: { text: '' } }))).toMatchObject({
    type: 'ToolInputError',
    message: expect.stringContaining('shout: invalid input: text'),
  });
  const broken = createToolActivities({
    runsDir: dir,
    documentRoots: [dir],
    toolSources: [userToolSource([{ ...shout, run: async () => Promise.reject(new Error('quota gone')) }])],
  });
  expect(await failureOf(env.run(broken.runAgentTool, { name: 'shout', input: { text: 'x' } }))).toMatchObject({
    type: 'ToolError',
    nonRetryable: true,
    message: 'shout: quota gone',
  });
});

test('search_documents over DOCUMENTS_DIR; read_document reads its documents by the names search gives', async () => {
  const found = (await runAgentTool({ name: 'search_documents', input: { query: 'Acme RocketSkates' } })).content;
  expect(found).toContain('acme/overview.md');
  expect(found).toContain('RocketSkates for $499');
  expect((await runAgentTool({ name: 'read_document', input: { name: 'acme/overview.md' } })).content).toContain('RocketSkates');
});

test('agent input: defaults, bounds, tool-name syntax', () => {
  expect(parseAgentInput({ prompt: 'p', tools: [] }).maxTurns).toBe(6);
  expect(() => parseAgentInput({ prompt: 'p', tools: [], maxTurns: 51 })).toThrow(InvalidInputError);
  expect(() => parseAgentInput({ prompt: 'p', tools: [], maxTurns: 0 })).toThrow(/maxTurns/);
  expect(() => parseAgentInput({ prompt: 'p', tools: ['ok', 'has space', 'a/b'] })).toThrow(/tool names must match .* \(got "has space", "a\/b"\)/);
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
  const stats: AgentToolOutput = await runAgentTool({
    name: 'document_stats',
    input: { documents: [{ name: 'a', text: 'Retries retry. Retries back off.' }], topTerms: 2 },
  });
  expect(stats.content).toContain('Documents: a (5 words)');
  fs.writeFileSync(path.join(dir, 'n.md'), 'hello');
  expect((await runAgentTool({ name: 'read_document', input: { name: 'n.md' } })).content).toBe('hello');
});
