/**
 * The agent loop's semantics on Temporal's time-skipping test server, with stubbed activities (no
 * dev server, no LLM server): a turn's tools run in parallel; tool failures become is_error results
 * (non-retryable at once, retryable ones after their attempts); the token budget stops the loop;
 * a long conversation continues as new carrying every message, turn and token; a turn that fails
 * for good stops it; an unknown tool fails the run before any turn.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { AgentToolInput, AgentToolOutput, AgentTurnInput, AgentTurnResult } from '../../src/activities';
import type { AgentResult, AgentToolSpec } from '../../src/core/agent';
import { quietRuntime } from '../helpers/runtime';
import { testServerBinary } from './env';

/** A scripted model: what each turn answers, by the number of messages it was sent. */
type Script = (input: AgentTurnInput) => Omit<AgentTurnResult, 'model' | 'durationMs' | 'attempt'>;

const spec = (name: string): AgentToolSpec => ({ name, description: name, input_schema: { type: 'object', properties: {} } });
const toolUse = (id: string, name: string) => ({ type: 'tool_use' as const, id, name, input: {} });
const text = (t: string) => ({ type: 'text' as const, text: t });

describe('agent loop (time-skipping server, stubbed activities)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `agent-unit-${randomUUID()}`;
  let script: Script;
  let tool: (call: AgentToolInput) => Promise<AgentToolOutput>;
  const turnInputs: AgentTurnInput[] = [];
  const toolAttempts = new Map<string, number>();

  beforeAll(async () => {
    quietRuntime();
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerBinary() } } });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
      activities: {
        describeAgentTools: async ({ names }: { names: string[] }) => {
          const unknown = names.filter((n) => n.startsWith('no_'));
          if (unknown.length) throw ApplicationFailure.nonRetryable(`unknown tool ${unknown.join(', ')} (known: a_tool)`, 'UnknownTool');
          return names.map(spec);
        },
        agentTurn: async (input: AgentTurnInput): Promise<AgentTurnResult> => {
          turnInputs.push(structuredClone(input));
          return { model: 'stub', durationMs: 1, attempt: 1, ...script(input) };
        },
        runAgentTool: (call: AgentToolInput) => {
          toolAttempts.set(call.name, (toolAttempts.get(call.name) ?? 0) + 1);
          return tool(call);
        },
      },
    });
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  beforeEach(() => {
    turnInputs.length = 0;
    toolAttempts.clear();
  });

  const start = (input: object) => env.client.workflow.start('agent', { taskQueue, workflowId: `agent-${randomUUID()}`, args: [{ prompt: 'p', ...input }] });

  /** Turn 1 asks for the given tools; turn 2 ends. */
  const askThenEnd =
    (...names: string[]): Script =>
    (i) =>
      i.messages.length === 1
        ? { content: [text('using tools'), ...names.map((n, k) => toolUse(`t${k}`, n))], stopReason: 'tool_use', tokens: { input: 10, output: 5 } }
        : { content: [text('done')], stopReason: 'end_turn', tokens: { input: 20, output: 5 } };

  test("a turn's tools run in parallel, and their results go back in order", async () => {
    script = askThenEnd('a_tool', 'b_tool');
    let release!: () => void;
    const bothStarted = new Promise<void>((r) => (release = r));
    let startedCount = 0;
    tool = async (call) => {
      if (++startedCount === 2) release();
      // Each waits for the other: sequential calls would never finish.
      await bothStarted;
      return { content: `${call.name} ok`, durationMs: 1 };
    };
    const r = (await (await start({ tools: ['a_tool', 'b_tool'] })).result()) as AgentResult;
    expect(r).toMatchObject({ stoppedBy: 'end-turn', text: 'done', tokens: { input: 30, output: 10 } });
    const results = turnInputs[1].messages[2].content as { tool_use_id: string; content: string }[];
    expect(results.map((b) => [b.tool_use_id, b.content])).toEqual([
      ['t0', 'a_tool ok'],
      ['t1', 'b_tool ok'],
    ]);
  });

  test('tool failures become is_error results: a non-retryable one at once, a retryable one after its 3 attempts', async () => {
    script = askThenEnd('bad_tool', 'flaky_tool');
    tool = async (call) => {
      if (call.name === 'bad_tool') throw ApplicationFailure.nonRetryable('bad input: x', 'ToolInputError');
      throw new Error('connection reset');
    };
    const r = (await (await start({ tools: ['bad_tool', 'flaky_tool'] })).result()) as AgentResult;
    expect(r.stoppedBy).toBe('end-turn');
    expect(r.turns[0].toolCalls.map((c) => [c.name, c.isError])).toEqual([
      ['bad_tool', true],
      ['flaky_tool', true],
    ]);
    const results = turnInputs[1].messages[2].content as { content: string; is_error?: boolean }[];
    expect(results[0]).toMatchObject({ is_error: true, content: 'bad input: x' });
    expect(results[1]).toMatchObject({ is_error: true, content: expect.stringContaining('connection reset') });
    expect(toolAttempts.get('bad_tool')).toBe(1);
    expect(toolAttempts.get('flaky_tool')).toBe(3);
  });

  test('maxTotalTokens: no new turn once the tokens spent reach it', async () => {
    script = () => ({ content: [text('more'), toolUse(`t${turnInputs.length}`, 'a_tool')], stopReason: 'tool_use', tokens: { input: 60, output: 40 } });
    tool = async () => ({ content: 'ok', durationMs: 1 });
    const r = (await (await start({ tools: ['a_tool'], maxTotalTokens: 150 })).result()) as AgentResult;
    expect(r).toMatchObject({ stoppedBy: 'budget', tokens: { input: 120, output: 80 } });
    expect(r.turns).toHaveLength(2);
  });

  test('past historyBytesLimit the agent continues as new with the whole conversation, and reports every turn', async () => {
    let turn = 0;
    script = (i) =>
      ++turn < 4
        ? { content: [text(`turn ${turn}`), toolUse(`t${turn}`, 'a_tool')], stopReason: 'tool_use', tokens: { input: i.messages.length, output: 1 } }
        : { content: [text('final')], stopReason: 'end_turn', tokens: { input: i.messages.length, output: 1 } };
    tool = async () => ({ content: 'x'.repeat(6_000), durationMs: 1 });
    const handle = (await start({ tools: ['a_tool'], historyBytesLimit: 10_000 })) as WorkflowHandleWithFirstExecutionRunId;
    const r = (await handle.result()) as AgentResult;
    expect(r.stoppedBy).toBe('end-turn');
    expect(r.continued).toBeGreaterThanOrEqual(1);
    expect(r.turns.map((t) => t.turn)).toEqual([1, 2, 3, 4]);
    expect(r.text).toBe('final');
    // Every turn saw the whole conversation so far, across runs: 1, 3, 5, 7 messages.
    expect(turnInputs.map((t) => t.messages.length)).toEqual([1, 3, 5, 7]);
    expect(r.tokens).toEqual({ input: 1 + 3 + 5 + 7, output: 4 });
    // The tools were described once, in the first run.
    const first = await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
    expect(first.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
  });

  test('a turn that fails for good stops the agent with its type; an unknown tool fails the run before any turn', async () => {
    script = () => {
      throw ApplicationFailure.nonRetryable('prompt is too long', 'BadRequest');
    };
    const r = (await (await start({ tools: ['a_tool'] })).result()) as AgentResult;
    expect(r).toMatchObject({ stoppedBy: 'failed', errorType: 'BadRequest', error: 'prompt is too long', turns: [] });

    const err = (await (await start({ tools: ['a_tool', 'no_such'] })).result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause).toMatchObject({ type: 'InvalidInput', message: expect.stringContaining('unknown tool no_such') });
    expect(turnInputs).toHaveLength(1);
  });
});
