/** The local LLM server driven through the real Anthropic SDK, for the tests of the server itself. */
import Anthropic from '@anthropic-ai/sdk';
import { startLocalLlmServer, type LocalLlmServer, type LocalLlmServerOptions } from '../../src/testing';

/** Model name the server tests send. */
export const MODEL = 'claude-test';

/**
 * Starts a server for the file (before all its tests), points an SDK client without retries at
 * it, resets it before each test and closes it after all; `ready` receives both.
 */
export function useLocalLlmThroughSdk(options: LocalLlmServerOptions, ready: (server: LocalLlmServer, client: Anthropic) => void): void {
  let server: LocalLlmServer | undefined;
  beforeAll(async () => {
    server = await startLocalLlmServer(options);
    ready(server, new Anthropic({ apiKey: 'test-key', baseURL: server.url, maxRetries: 0 }));
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => {
    server?.reset();
  });
}
