/** The agent loop on the real dev server: parallel tool calls, tool errors as is_error, maxTurns, input validation. */
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { AgentResult } from '../../src/core/agent';
import { sharedHarness } from '../helpers/harness';

describe('agent', () => {
  const h = sharedHarness({ llm: { ttftMs: 30, perTokenMs: 0, outputTokens: 12 } });

  test('a two-tool turn runs both tools in parallel and the final text quotes their results', async () => {
    fs.writeFileSync(path.join(h.documentsDir, 'notes.md'), 'Temporal retries activities. Agents call tools.');
    const handle = await h.start('agent', { prompt: 'Compute the document stats, then read the document notes.md', tools: ['document_stats', 'read_document'] });
    const r = (await handle.result()) as AgentResult;
    expect(r.stoppedBy).toBe('end-turn');
    expect(r.turns).toHaveLength(2);
    expect(r.turns[0]).toMatchObject({ turn: 1, stopReason: 'tool_use' });
    expect(r.turns[0].toolCalls.map((c) => [c.name, c.isError])).toEqual([
      ['document_stats', false],
      ['read_document', false],
    ]);
    expect(r.turns[1]).toMatchObject({ turn: 2, stopReason: 'end_turn', toolCalls: [] });
    const [stats, read] = r.turns[0].toolCalls;
    expect(r.text).toContain(`document_stats (${stats.id}) returned "Documents: `);
    expect(r.text).toContain(`read_document (${read.id}) returned "Temporal retries activities. Agents call tools."`);
    expect(r.tokens.input).toBe(r.turns[0].tokens.input + r.turns[1].tokens.input);
    expect(h.llm.stats().calls).toBe(2);

    // Both tool activities were scheduled before either finished (one workflow task).
    const { events } = await handle.fetchHistory();
    const toolEvents = (events ?? []).flatMap((e, i) => {
      const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name === 'runAgentTool';
      const ended = !!(e.activityTaskCompletedEventAttributes || e.activityTaskFailedEventAttributes);
      return scheduled ? [{ i, kind: 'scheduled' }] : ended ? [{ i, kind: 'ended' }] : [];
    });
    const scheduledAt = toolEvents.filter((e) => e.kind === 'scheduled').map((e) => e.i);
    expect(scheduledAt).toHaveLength(2);
    const firstToolEnd = toolEvents.find((e) => e.kind === 'ended' && e.i > scheduledAt[0])!.i;
    expect(Math.max(...scheduledAt)).toBeLessThan(firstToolEnd);
  });

  test('a failed tool reaches the model as an is_error result', async () => {
    const r = await h.run<AgentResult>('agent', { prompt: 'Read the document missing.md', tools: ['read_document'] });
    expect(r.stoppedBy).toBe('end-turn');
    const [call] = r.turns[0].toolCalls;
    expect(call).toMatchObject({ name: 'read_document', isError: true, error: expect.stringContaining('cannot read missing.md') });
    expect(r.text).toContain(`read_document (${call.id}) returned an error: "`);
    expect(r.text).toContain(`cannot read missing.md: ENOENT`);
  });

  test('maxTurns: 1 stops after the first turn without running its tools', async () => {
    const r = await h.run<AgentResult>('agent', { prompt: 'Read the document notes.md', tools: ['read_document'], maxTurns: 1 });
    expect(r.stoppedBy).toBe('max-turns');
    expect(r.turns).toHaveLength(1);
    expect(r.turns[0]).toMatchObject({ stopReason: 'tool_use', toolCalls: [] });
    expect(r.text).toBe("I'll use read_document.");
    expect(h.llm.stats().calls).toBe(1);
  });

  test('an unknown tool fails the run with InvalidInput before any LLM call', async () => {
    const handle = await h.start('agent', { prompt: 'Search the web', tools: ['read_document', 'web_search'] });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause).toMatchObject({ type: 'InvalidInput', message: expect.stringContaining('unknown tool web_search') });
    expect(h.llm.stats().calls).toBe(0);
  });

  test('a long conversation continues as new, carrying the conversation: the result covers every turn', async () => {
    fs.writeFileSync(path.join(h.documentsDir, 'long.md'), 'Durable agents keep their history small. '.repeat(600));
    const handle = await h.start('agent', { prompt: 'Read the document long.md', tools: ['read_document'], historyBytesLimit: 10_000 });
    const r = (await handle.result()) as AgentResult;
    expect(r).toMatchObject({ stoppedBy: 'end-turn', continued: 1 });
    expect(r.turns.map((t) => t.turn)).toEqual([1, 2]);
    expect(r.turns[0].toolCalls).toMatchObject([{ name: 'read_document', isError: false }]);
    expect(r.text).toContain('returned "Durable agents keep their history small.');
    expect(r.tokens.input).toBe(r.turns[0].tokens.input + r.turns[1].tokens.input);
    // Two runs of one workflow id: the first continued as new after turn 1 and its tool call.
    const first = await h.client.workflow.getHandle(handle.workflowId, (handle as WorkflowHandleWithFirstExecutionRunId).firstExecutionRunId).fetchHistory();
    expect(first.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    expect(first.events?.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'agentTurn')).toHaveLength(1);
    expect(h.llm.stats().calls).toBe(2);
  });

  test('cancelled mid-turn: the request is aborted and the turns so far are returned', async () => {
    h.llm.setFaults([{ match: 'slow-agent', fault: { kind: 'latency', ttftMs: 30_000 } }]);
    const handle = await h.start('agent', { prompt: 'slow-agent: read the document notes.md', tools: ['read_document'] });
    const deadline = Date.now() + 20_000;
    while (h.llm.stats().inFlight === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    await handle.cancel();
    const r = (await handle.result()) as AgentResult;
    expect(r.stoppedBy).toBe('cancelled');
    expect(r.turns).toHaveLength(0);
    const deadline2 = Date.now() + 10_000;
    while (!h.llm.stats().requests[0]?.aborted && Date.now() < deadline2) await new Promise((res) => setTimeout(res, 50));
    expect(h.llm.stats().requests[0].aborted).toBe(true);
  });

  test('a turn that fails for good (400) stops the agent with its reason, not retried', async () => {
    h.llm.setFaults([{ match: 'bad-agent', fault: { kind: 'status', status: 400, message: 'messages: bad block' } }]);
    const r = await h.run<AgentResult>('agent', { prompt: 'bad-agent: read notes.md', tools: ['read_document'] });
    expect(r).toMatchObject({ stoppedBy: 'failed', errorType: 'BadRequest', error: expect.stringContaining('bad block') });
    expect(h.llm.stats().calls).toBe(1);
  });
});
