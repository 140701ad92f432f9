/** Builds the Anthropic SDK client from config: SDK retries off, because Temporal owns retries. */
import Anthropic from '@anthropic-ai/sdk';
import type { Config } from '../config';

/** The real SDK client, pointed at the real API or at the local server (per config). */
export function createAnthropicClient(llm: Config['llm']): Anthropic {
  return new Anthropic({
    apiKey: llm.apiKey,
    baseURL: llm.baseURL,
    maxRetries: 0,
    timeout: llm.requestTimeoutMs,
  });
}
