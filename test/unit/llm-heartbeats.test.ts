/**
 * When the LLM activity heartbeats: by default once at the start and every heartbeatIntervalMs;
 * with firstHeartbeatDelayMs (LLM_FIRST_HEARTBEAT_MS) not before that delay, so a short call
 * sends one heartbeat: the one carrying its answer (no paying twice keeps it in every case).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createLlmActivities } from '../../src/activities/llm';

/** A client whose every request answers "ok" after `ms`. */
function fakeAnthropic(ms: number): Anthropic {
  const message = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'test-model',
    content: [{ type: 'text', text: 'ok' }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 3, output_tokens: 1 },
  };
  return {
    messages: {
      create: () => ({
        withResponse: () => new Promise((resolve) => setTimeout(() => resolve({ data: message, response: { headers: new Headers() } }), ms)),
      }),
    },
  } as unknown as Anthropic;
}

async function heartbeatsOf(o: { callMs: number; firstHeartbeatDelayMs?: number }): Promise<unknown[]> {
  const { callLlm } = createLlmActivities({
    anthropic: fakeAnthropic(o.callMs),
    defaults: { model: 'test-model', maxTokens: 16 },
    heartbeatIntervalMs: 1000,
    firstHeartbeatDelayMs: o.firstHeartbeatDelayMs,
  });
  const env = new MockActivityEnvironment();
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const r = (await env.run(callLlm, { prompt: 'hi' })) as { text: string };
  expect(r.text).toBe('ok');
  return beats;
}

describe('LLM activity heartbeats', () => {
  it('by default: one at once (no details), then the answer', async () => {
    const beats = await heartbeatsOf({ callMs: 50 });
    expect(beats).toHaveLength(2);
    expect(beats[0]).toBeUndefined();
    expect(beats[1]).toMatchObject({ answer: { text: 'ok', model: 'test-model' } });
  });

  it('with firstHeartbeatDelayMs: a call shorter than the delay sends only the heartbeat carrying its answer', async () => {
    const beats = await heartbeatsOf({ callMs: 50, firstHeartbeatDelayMs: 2000 });
    expect(beats).toEqual([expect.objectContaining({ answer: expect.objectContaining({ text: 'ok' }) })]);
  });

  it('with firstHeartbeatDelayMs: a longer call heartbeats from the delay on, then sends the answer', async () => {
    const beats = await heartbeatsOf({ callMs: 1400, firstHeartbeatDelayMs: 300 });
    // 300 ms: first liveness heartbeat; 1300 ms: the next; ~1400 ms: the answer.
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats.slice(0, -1).every((b) => b === undefined)).toBe(true);
    expect(beats[beats.length - 1]).toMatchObject({ answer: { text: 'ok' } });
  });
});
