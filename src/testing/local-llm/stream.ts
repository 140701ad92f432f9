/**
 * `stream: true` replies: a finished `Message` cut into the real API's server-sent event sequence
 * (message_start, per block content_block_start / _delta… / _stop, message_delta, message_stop),
 * text in `text_delta` chunks of a few words and tool inputs in `input_json_delta` chunks.
 */
import type Anthropic from '@anthropic-ai/sdk';

/** Words per `text_delta` chunk. */
export const TEXT_CHUNK_WORDS = 3;
/** Characters per `input_json_delta` chunk. */
export const JSON_CHUNK_CHARS = 32;

/** One SSE event; `delta` marks the content chunks (what latency is spread over and a drop fault counts). */
export interface SseEvent {
  event: string;
  data: unknown;
  delta?: boolean;
}

/** `event: <type>` + `data: <json>` + blank line. */
export function formatSse(e: SseEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/** `text` in chunks of {@link TEXT_CHUNK_WORDS} words (each keeping its trailing whitespace); at least one chunk. */
export function textChunks(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? [text];
  const out: string[] = [];
  for (let i = 0; i < words.length; i += TEXT_CHUNK_WORDS) out.push(words.slice(i, i + TEXT_CHUNK_WORDS).join(''));
  return out;
}

/** `json` in chunks of {@link JSON_CHUNK_CHARS} characters; at least one chunk. */
export function jsonChunks(json: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < json.length; i += JSON_CHUNK_CHARS) out.push(json.slice(i, i + JSON_CHUNK_CHARS));
  return out.length > 0 ? out : [''];
}

/** The event sequence of `message`, ending with message_stop; a `ping` follows message_start as at the real API. */
export function messageEvents(message: Anthropic.Messages.Message): SseEvent[] {
  const events: SseEvent[] = [];
  const ev = (data: { type: string } & Record<string, unknown>, delta = false): void => {
    events.push({ event: data.type, data, ...(delta ? { delta } : {}) });
  };
  ev({ type: 'message_start', message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...message.usage, output_tokens: 0 } } });
  ev({ type: 'ping' });
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      ev({ type: 'content_block_start', index, content_block: { ...block, text: '' } });
      for (const text of textChunks(block.text)) ev({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }, true);
    } else if (block.type === 'tool_use') {
      ev({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
      for (const partial_json of jsonChunks(JSON.stringify(block.input))) ev({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } }, true);
    } else {
      ev({ type: 'content_block_start', index, content_block: block });
    }
    ev({ type: 'content_block_stop', index });
  });
  ev({
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence, stop_details: null, container: null },
    usage: {
      output_tokens: message.usage.output_tokens,
      input_tokens: null,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
      server_tool_use: null,
      output_tokens_details: null,
    },
  });
  ev({ type: 'message_stop' });
  return events;
}
