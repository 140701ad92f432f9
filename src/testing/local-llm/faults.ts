/**
 * Fault injection: the failures (and slowdowns) a durable executor must survive — error statuses
 * (429 with retry-after, 529, 500, 400…), hangs, dropped connections (also mid-stream), malformed bodies, odd
 * latency, wrong text, capacity limits — and the rules that decide which request gets which.
 */
import { isNonNegativeNumber, validateLatency } from './messages';
import { mulberry32 } from './prng';

/** A failure (or slowdown) to inject into a request. */
export type Fault =
  | { kind: 'status'; status: number; errorType?: string; message?: string; retryAfterS?: number; retryAfterMs?: number }
  /** Accept the request and never answer (until the client aborts or the server closes). */
  | { kind: 'hang' }
  /** Destroy the socket without any response. */
  | { kind: 'drop' }
  /**
   * A streamed reply (`stream: true`) whose connection dies after `afterChunks` content deltas
   * (headers, message_start and the deltas before it are delivered); a non-streaming request is dropped like `drop`.
   */
  | { kind: 'stream-drop'; afterChunks: number }
  /** 200 with content-type application/json and a body that is not valid JSON. */
  | { kind: 'malformed' }
  /** Answer normally, but with this latency / length. */
  | { kind: 'latency'; ttftMs?: number; perTokenMs?: number; outputTokens?: number }
  /** Answer with exactly this text in one text block (e.g. prose where JSON was asked for), even when a tool call was forced. */
  | { kind: 'text'; text: string }
  /** A provider at capacity: 429 (with retry-after-ms / retry-after) whenever more than maxConcurrent requests would be in flight. */
  | { kind: 'overload'; maxConcurrent: number; retryAfterMs?: number; retryAfterS?: number };

/** When to inject a fault; rules are checked in order and the first applicable one wins. */
export interface FaultRule {
  /** Applies when the prompt (all user text joined) or the system prompt contains this; absent = every request. */
  match?: string;
  /** Apply only to the first K matching requests, then the rule is spent (default: unlimited). */
  times?: number;
  /** 0..1; drawn from a PRNG seeded with the server's `seed` so runs are reproducible. */
  probability?: number;
  fault: Fault;
}

/** The body of a malformed reply: a JSON message cut off mid-string. */
export const MALFORMED_BODY = '{"id":"msg_malformed","type":"message","content":[{"type":"text","text":"cut off';

/**
 * Checks a fault rule list (it may come from an untrusted admin request) and returns it typed.
 * Throws an Error naming the offending rule, so a typo in a test fails loudly instead of silently never firing.
 */
export function validateFaultRules(input: unknown): FaultRule[] {
  if (!Array.isArray(input)) throw new Error('fault rules must be an array');
  return input.map((raw, i) => {
    const where = `fault rule ${i}`;
    if (!raw || typeof raw !== 'object') throw new Error(`${where} must be an object`);
    const r = raw as Record<string, unknown>;
    if (r.match !== undefined && typeof r.match !== 'string') throw new Error(`${where}: match must be a string`);
    if (r.times !== undefined && !(isNonNegativeNumber(r.times) && Number.isInteger(r.times))) {
      throw new Error(`${where}: times must be a non-negative integer`);
    }
    if (r.probability !== undefined && !(isNonNegativeNumber(r.probability) && r.probability <= 1)) {
      throw new Error(`${where}: probability must be between 0 and 1`);
    }
    const f = r.fault as Record<string, unknown> | undefined;
    if (!f || typeof f !== 'object') throw new Error(`${where}: fault is required`);
    switch (f.kind) {
      case 'status':
        if (typeof f.status !== 'number' || !Number.isInteger(f.status) || f.status < 400 || f.status > 599) {
          throw new Error(`${where}: status must be an integer HTTP error status (400-599)`);
        }
        if (f.retryAfterS !== undefined && !isNonNegativeNumber(f.retryAfterS)) throw new Error(`${where}: retryAfterS must be a non-negative number`);
        if (f.retryAfterMs !== undefined && !isNonNegativeNumber(f.retryAfterMs)) throw new Error(`${where}: retryAfterMs must be a non-negative number`);
        break;
      case 'latency':
        validateLatency(f);
        break;
      case 'text':
        if (typeof f.text !== 'string') throw new Error(`${where}: text must be a string`);
        break;
      case 'overload':
        if (typeof f.maxConcurrent !== 'number' || f.maxConcurrent < 1) throw new Error(`${where}: maxConcurrent must be a number >= 1`);
        break;
      case 'stream-drop':
        if (!(isNonNegativeNumber(f.afterChunks) && Number.isInteger(f.afterChunks))) throw new Error(`${where}: afterChunks must be a non-negative integer`);
        break;
      case 'hang':
      case 'drop':
      case 'malformed':
        break;
      default:
        throw new Error(`${where}: unknown fault kind ${JSON.stringify(f.kind)}`);
    }
    return raw as FaultRule;
  });
}

/** `retry-after` / `retry-after-ms` headers of a fault that sets them. */
export function retryAfterHeaders(f: { retryAfterS?: number; retryAfterMs?: number }): Record<string, string> {
  return {
    ...(f.retryAfterMs !== undefined ? { 'retry-after-ms': String(f.retryAfterMs) } : {}),
    ...(f.retryAfterS !== undefined ? { 'retry-after': String(f.retryAfterS) } : {}),
  };
}

/** The active rules with how often each fired, and the PRNG behind `probability`. */
export class FaultRules {
  private rules: { rule: FaultRule; used: number }[] = [];
  private rand: () => number;

  constructor(private readonly seed: number) {
    this.rand = mulberry32(seed);
  }

  /** Replaces the rules (validated; restarts their `times` counters and the probability PRNG). */
  set(input: FaultRule[]): void {
    this.rules = validateFaultRules(input).map((rule) => ({ rule, used: 0 }));
    this.rand = mulberry32(this.seed);
  }

  get size(): number {
    return this.rules.length;
  }

  /** The fault of the first applicable rule for a request with this prompt and system prompt, if any. */
  pick(prompt: string, system: string): Fault | undefined {
    for (const ar of this.rules) {
      const { rule } = ar;
      if (rule.times !== undefined && ar.used >= rule.times) continue;
      if (rule.match !== undefined && !prompt.includes(rule.match) && !system.includes(rule.match)) continue;
      // Drawn only for otherwise-applicable rules so the sequence depends on the traffic, not on rule order quirks.
      if (rule.probability !== undefined && !(this.rand() < rule.probability)) continue;
      ar.used++;
      return rule.fault;
    }
    return undefined;
  }
}
