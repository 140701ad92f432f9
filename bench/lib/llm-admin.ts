/** The local LLM server's /_admin endpoints, used by the bench to set latency and faults and read what it saw. */

export interface Latency {
  ttftMs: number;
  perTokenMs: number;
  outputTokens: number;
}

/** One fault rule (see src/testing/local-llm/faults.ts FaultRule). */
export interface FaultRule {
  match?: string;
  times?: number;
  probability?: number;
  fault: Record<string, unknown> & { kind: string };
}

/** The parts of a request record the bench reads. */
export interface RequestRecord {
  id: number;
  prompt: string;
  receivedAt: number;
  finishedAt?: number;
  outcome: string;
  status?: number;
  aborted: boolean;
  inputTokens: number;
}

/** The parts of /_admin/stats the bench reads. */
export interface LlmStats {
  calls: number;
  inFlight: number;
  maxInFlight: number;
  requests: RequestRecord[];
  tokens: { input: number; output: number };
}

export class LlmAdmin {
  constructor(readonly url: string) {}

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`LLM server ${method} ${path}: ${r.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }

  health(): Promise<{ ok: boolean }> {
    return this.call('GET', '/_admin/health');
  }

  /** Clears stats and faults and restores the start latency. */
  async reset(): Promise<void> {
    await this.call('POST', '/_admin/reset');
  }

  async latency(l: Partial<Latency>): Promise<void> {
    await this.call('POST', '/_admin/latency', l);
  }

  async faults(rules: FaultRule[]): Promise<void> {
    await this.call('POST', '/_admin/faults', rules);
  }

  stats(): Promise<LlmStats> {
    return this.call('GET', '/_admin/stats');
  }

  /** Reset, then set this latency and these faults: the state every case starts from. */
  async prepare(l: Latency, rules: FaultRule[] = []): Promise<void> {
    await this.reset();
    await this.latency(l);
    if (rules.length) await this.faults(rules);
  }

  /** The emulated API rate limits (token buckets per key and model); reset() turns them off. */
  async rateLimits(l: { rpm?: number; itpm?: number; otpm?: number; tpm?: number; windowMs?: number }): Promise<void> {
    await this.call('POST', '/_admin/rate-limits', l);
  }

  /** Waits until no request is in flight (e.g. after a run whose result came back before its last response closed). */
  async waitIdle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.stats()).inFlight === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Latency of one call in ms under a latency setting, for `words` output tokens. */
export function callMs(l: Latency, maxTokens = Infinity): number {
  return l.ttftMs + l.perTokenMs * Math.min(l.outputTokens, maxTokens);
}

/** Largest number of arrivals in any window of `windowMs`: sliding (any start) and tumbling (aligned to the first arrival). */
export function arrivalsPerWindow(times: number[], windowMs: number): { sliding: number; tumbling: number; windows: number[] } {
  const t = [...times].sort((a, b) => a - b);
  let sliding = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi] - t[lo] >= windowMs) lo++;
    sliding = Math.max(sliding, hi - lo + 1);
  }
  const windows: number[] = [];
  for (const x of t) {
    const i = Math.floor((x - t[0]) / windowMs);
    windows[i] = (windows[i] ?? 0) + 1;
  }
  const filled = Array.from(windows, (w) => w ?? 0);
  return { sliding, tumbling: filled.length ? Math.max(...filled) : 0, windows: filled };
}
