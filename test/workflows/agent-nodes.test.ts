/**
 * Agents as tasks on the real dev server: DAG nodes, fan-out tasks and pipeline tasks that are
 * agents (child workflows `<run>/<task>`) using search_documents over the harness's documents
 * folder; their final text is what dependents quote; unknown tools and bad agent specs are
 * refused before any LLM call; an agent that runs out of turns fails its node and skips dependents.
 */
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { AgentResult } from '../../src/core/agent';
import type { DagResult } from '../../src/workflows/run-dag';
import type { FanOutResult } from '../../src/workflows/fan-out';
import type { PipelineResult } from '../../src/workflows/pipeline';
import type { IntelResult } from '../../src/workflows/competitive-intel';
import { followText } from '../../src/client/stream';
import { sharedHarness } from '../helpers/harness';

describe('agents as tasks', () => {
  const h = sharedHarness({ llm: { ttftMs: 20, perTokenMs: 0, outputTokens: 12 } });

  beforeAll(() => {
    fs.mkdirSync(path.join(h.documentsDir, 'acme'), { recursive: true });
    fs.mkdirSync(path.join(h.documentsDir, 'globex'), { recursive: true });
    fs.writeFileSync(path.join(h.documentsDir, 'acme', 'products.md'), '# Acme products\n\nAcme sells RocketSkates at $499 a pair, made in Tucson.');
    fs.writeFileSync(path.join(h.documentsDir, 'globex', 'overview.md'), '# Globex overview\n\nGlobex employs 1,240 people and was founded in 1989 by Hank Scorpio.');
  });

  test('a DAG whose research nodes are agents: each a child workflow, its findings quoted by the summary', async () => {
    const handle = await h.start('runDag', {
      nodes: [
        { id: 'acme', prompt: 'Research Acme products', agent: { tools: ['search_documents'] } },
        { id: 'globex', prompt: 'Research Globex overview', agent: { tools: ['search_documents', 'read_document'], maxTurns: 3 } },
        { id: 'summary', prompt: 'Compare:\n{{acme}}\n\n{{globex}}', dependsOn: ['acme', 'globex'] },
      ],
    });
    const r = (await handle.result()) as DagResult;
    const [acme, globex, summary] = r.results;
    expect([acme.state, globex.state, summary.state]).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(acme.output).toContain('RocketSkates at $499');
    expect(globex.output).toContain('Hank Scorpio');
    expect(acme.agent).toMatchObject({ workflowId: `${handle.workflowId}/acme`, stoppedBy: 'end-turn', turns: 2, toolCalls: { search_documents: 1 }, toolErrors: 0 });
    // Given a search and a read tool, the agent searched first, then read the best hit, then answered.
    expect(globex.agent).toMatchObject({ turns: 3, toolCalls: { search_documents: 1, read_document: 1 }, toolErrors: 0 });
    expect(acme.tokens.input).toBeGreaterThan(0);
    expect(acme.costUsd).toBeGreaterThan(0);

    // The child is a real agent workflow whose parent is the run; its result holds every turn.
    const child = h.client.workflow.getHandle(`${handle.workflowId}/acme`);
    const d = await child.describe();
    expect(d.type).toBe('agent');
    expect(d.parentExecution?.workflowId).toBe(handle.workflowId);
    const agentResult = (await child.result()) as AgentResult;
    expect(agentResult.text).toBe(acme.output);
    expect(agentResult.turns[0].toolCalls.map((c) => c.name)).toEqual(['search_documents']);

    const { events } = await handle.fetchHistory();
    const started = (events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length;
    expect(started).toBe(2);
    // 2 turns of acme, 3 of globex, the summary.
    expect(h.llm.stats().calls).toBe(6);
  });

  test('fan-out and pipeline tasks can be agents', async () => {
    const f = await h.run<FanOutResult>('fanOut', {
      tasks: [
        { name: 'acme', prompt: 'Research Acme products', agent: { tools: ['search_documents'] } },
        { name: 'plain', prompt: 'Say hello' },
      ],
    });
    expect(f.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded']);
    expect(f.results[0].output).toContain('RocketSkates');
    expect(f.results[0].agent?.turns).toBe(2);
    expect(f.results[1].agent).toBeUndefined();

    const p = await h.run<PipelineResult>('pipeline', {
      stages: [
        { name: 'research', tasks: [{ id: 'g', prompt: 'Research Globex overview', agent: { tools: ['search_documents'] } }] },
        { name: 'write', tasks: [{ id: 'w', prompt: 'Write a memo from {{g}}' }] },
      ],
    });
    expect(p.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded']);
    expect(p.results[0].output).toContain('Hank Scorpio');
  });

  test('an agent out of turns fails its node (AgentMaxTurns) and its dependents are skipped', async () => {
    const r = await h.run<DagResult>('runDag', {
      nodes: [
        { id: 'a', prompt: 'Research Acme products', agent: { tools: ['search_documents'], maxTurns: 1 } },
        { id: 'b', prompt: 'Use {{a}}', dependsOn: ['a'] },
      ],
    });
    expect(r.results[0]).toMatchObject({ state: 'failed', errorType: 'AgentMaxTurns', agent: { stoppedBy: 'max-turns', turns: 1 } });
    expect(r.results[0].tokens.output).toBeGreaterThan(0);
    expect(r.results[1]).toMatchObject({ state: 'skipped' });
  });

  test('unknown tools and bad agent specs are refused before any LLM call, every problem named', async () => {
    const unknown = await h.start('runDag', {
      nodes: [
        { id: 'a', prompt: 'p', agent: { tools: ['search_documents', 'web_search'] } },
        { id: 'b', prompt: 'q', agent: { tools: ['fetch_url'] } },
      ],
    });
    const err = (await unknown.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause).toMatchObject({ type: 'InvalidInput', message: expect.stringContaining('unknown tools web_search, fetch_url (known: ') });

    const bad = await h.start('runDag', {
      nodes: [
        { id: 'a', tool: { name: 'document-stats', documents: [{ name: 'x', text: 'y' }] }, agent: { tools: ['read_document'] } },
        { id: 'b', prompt: 'q', agent: { tools: ['has space'], maxTurns: 0 } },
      ],
    });
    const err2 = (await bad.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err2.cause).toMatchObject({ type: 'InvalidInput' });
    expect(err2.cause?.message).toMatch(/"agent" needs a "prompt"/);
    expect(err2.cause?.message).toMatch(/tool names must match/);
    expect(err2.cause?.message).toMatch(/maxTurns/);
    expect(h.llm.stats().calls).toBe(0);
  });

  test('intel with agents: each company researched by an agent over the shipped corpus; the report quotes what they read', async () => {
    const corpus = path.resolve(__dirname, '../../examples/corpus');
    for (const c of ['anthropic', 'openai']) fs.cpSync(path.join(corpus, c), path.join(h.documentsDir, c), { recursive: true });
    const r = await h.run<IntelResult>('competitiveIntel', { companies: ['Anthropic', 'OpenAI'], agents: true });
    const research = r.results.filter((x) => x.group === 'research');
    expect(research.map((x) => [x.company, x.state])).toEqual([
      ['Anthropic', 'succeeded'],
      ['OpenAI', 'succeeded'],
    ]);
    for (const x of research) expect(x.agent).toMatchObject({ stoppedBy: 'end-turn', toolCalls: { search_documents: 1, read_document: 1 }, toolErrors: 0 });
    expect(r.summary?.state).toBe('succeeded');
    const report = fs.readFileSync(r.reportPath!, 'utf8');
    // What the agent read is in its research, and the analysis and report carry it.
    const anthropic = research[0];
    const read = /read_document \(toolu_\w+\) returned "# ([^"]{40})/.exec(anthropic.output ?? '');
    expect(read).not.toBeNull();
    const docText = ['overview.md', 'products.md', 'news.md'].map((f) => fs.readFileSync(path.join(corpus, 'anthropic', f), 'utf8').replace(/\s+/g, ' ')).join(' ');
    expect(docText).toContain(read![1]);
    expect(report).toContain(read![1]);
    expect(report).toContain('_Researched by agent `');
  });

  test('a streaming DAG: each agent turn streams into the run as <node>#<turn>, the last turn exactly the node output', async () => {
    h.llm.setFaults([{ match: 'Research Acme', fault: { kind: 'latency', ttftMs: 50, perTokenMs: 15, outputTokens: 30 } }]);
    const handle = await h.start('runDag', {
      stream: true,
      nodes: [
        { id: 'acme', prompt: 'Research Acme products', agent: { tools: ['search_documents'] } },
        { id: 'memo', prompt: 'Memo from {{acme}}', dependsOn: ['acme'] },
      ],
    });
    const seenWhileRunning: string[] = [];
    const texts = await followText(handle, (call) => {
      if (call.callId === 'acme#2' && call.text && !call.done) seenWhileRunning.push(call.text);
    });
    const r = (await handle.result()) as DagResult;
    expect(r.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded']);
    expect([...texts.keys()].sort()).toEqual(['acme#1', 'acme#2', 'memo']);
    expect(texts.get('acme#1')?.text).toBe("I'll use search_documents.");
    expect(texts.get('acme#2')).toMatchObject({ text: r.results[0].output, done: true, resets: 0 });
    expect(texts.get('memo')?.text).toBe(r.results[1].output);
    // Text of the final turn arrived in pieces before that turn ended.
    expect(seenWhileRunning.length).toBeGreaterThan(0);
    expect(seenWhileRunning[0].length).toBeLessThan(r.results[0].output!.length);
  });
});
