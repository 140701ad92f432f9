/** What the local LLM server records of the requests it sees, and the counters it reports. */

/** What the server saw and did for one `POST /v1/messages`. */
export interface RequestRecord {
  id: number;
  /** The prompt text (user messages joined by "\n"), truncated to 500 chars to bound memory. */
  prompt: string;
  /** The system prompt, truncated to 500 chars. */
  system?: string;
  model: string;
  maxTokens: number;
  /** The tool the request forced (`tool_choice` of type `tool`, or `any`), when it did. */
  tool?: string;
  /** The request asked for `stream: true` (answered as server-sent events when it succeeded). */
  stream?: boolean;
  /** Content deltas written to a streamed reply (all of them unless it was dropped or aborted). */
  chunks?: number;
  /** Names of the tools a tool turn called (`tool_use` blocks of an unforced reply). */
  toolCalls?: string[];
  receivedAt: number;
  finishedAt?: number;
  outcome: 'ok' | 'status' | 'hang' | 'drop' | 'malformed';
  status?: number;
  /** True when the response was never delivered because the client went away (or the server closed). */
  aborted: boolean;
  inputTokens: number;
  outputTokens: number;
}

/** Counters since start or the last reset. */
export interface LlmStats {
  /** Every `POST /v1/messages` received, including invalid and faulted ones. */
  calls: number;
  inFlight: number;
  maxInFlight: number;
  /** Calls by the first 80 chars of the last user message ('' when the body could not be read). */
  perPrompt: Record<string, number>;
  requests: RequestRecord[];
  /** Summed over successfully delivered replies only. */
  tokens: { input: number; output: number };
}

/** Prompt and system prompt are kept this long in a record. */
export const RECORD_TEXT_LIMIT = 500;

/** The mutable part of the stats that `reset()` replaces wholesale. */
export interface Generation {
  calls: number;
  maxInFlight: number;
  perPrompt: Map<string, number>;
  requests: RequestRecord[];
  /** Untruncated texts by request index, kept only for `countMatching`. */
  fullTexts: { prompt: string; system: string }[];
  inputTokens: number;
  outputTokens: number;
}

export function newGeneration(): Generation {
  return { calls: 0, maxInFlight: 0, perPrompt: new Map(), requests: [], fullTexts: [], inputTokens: 0, outputTokens: 0 };
}

/** Counts one more call attributed to `lastUser` (its first 80 chars). */
export function countPrompt(g: Generation, lastUser: string): void {
  const key = lastUser.slice(0, 80);
  g.perPrompt.set(key, (g.perPrompt.get(key) ?? 0) + 1);
}

/** A snapshot of a generation's counters (records are copies). */
export function snapshot(g: Generation, inFlight: number): LlmStats {
  return {
    calls: g.calls,
    inFlight,
    maxInFlight: g.maxInFlight,
    perPrompt: Object.fromEntries(g.perPrompt),
    requests: g.requests.map((r) => ({ ...r })),
    tokens: { input: g.inputTokens, output: g.outputTokens },
  };
}

/** Requests of a generation whose full prompt or system prompt contains `substring`. */
export function countMatching(g: Generation, substring: string): number {
  let n = 0;
  for (const t of g.fullTexts) if (t.prompt.includes(substring) || t.system.includes(substring)) n++;
  return n;
}
