/**
 * The `/_admin` endpoints: the in-process control surface of the local LLM server over HTTP, for
 * when it runs in its own process (`npm run llm-server`, the bench, docker compose).
 *
 * - `GET /_admin/health` → `{ ok: true }`
 * - `GET /_admin/stats` → {@link LlmStats}
 * - `POST /_admin/faults` with `[rule…]` or `{ faults: [rule…] }` → replaces the fault rules
 * - `POST /_admin/rate-limits` with `{ rpm?, itpm?, otpm?, tpm?, windowMs? }` (empty: off)
 * - `POST /_admin/latency` with `{ ttftMs?, perTokenMs?, outputTokens? }`
 * - `POST /_admin/reset` → clears stats and faults, restores the configured latency and limits
 */
import type * as http from 'node:http';
import type { FaultRule } from './faults';
import { HttpError, readBody, sendError, sendJson } from './http';
import { validateLatency, type LatencyOptions } from './messages';
import type { RateLimits } from './rate-limits';
import type { LlmStats } from './stats';

/** What the admin endpoints act on. */
export interface AdminControl {
  stats(): LlmStats;
  /** Validates and replaces the rules; returns how many are active. */
  setFaults(rules: unknown): number;
  setRateLimits(limits: RateLimits | undefined): void;
  setLatency(l: Partial<LatencyOptions>): void;
  getLatency(): LatencyOptions;
  reset(): void;
}

const RATE_LIMIT_KEYS = ['rpm', 'itpm', 'otpm', 'tpm', 'windowMs'];

/** Checks a rate-limit body (it may come from an untrusted admin request). */
export function validateRateLimits(body: unknown): RateLimits | undefined {
  if (body === undefined || body === null) return undefined;
  for (const [k, v] of Object.entries(body)) {
    if (!RATE_LIMIT_KEYS.includes(k) || !Number.isInteger(v) || (v as number) <= 0)
      throw new HttpError(400, `rate limit ${k} must be one of rpm, itpm, otpm, tpm, windowMs with a positive whole number`);
  }
  return Object.keys(body as object).length ? (body as RateLimits) : undefined;
}

/** Answers one `/_admin/*` request. */
export async function handleAdmin(req: http.IncomingMessage, res: http.ServerResponse, path: string, control: AdminControl): Promise<void> {
  const route = `${req.method} ${path}`;
  const readJson = async (): Promise<unknown> => {
    const raw = await readBody(req);
    try {
      return raw.trim() === '' ? undefined : JSON.parse(raw);
    } catch {
      throw new HttpError(400, 'request body is not valid JSON');
    }
  };
  try {
    switch (route) {
      case 'GET /_admin/health':
        return sendJson(res, 200, { ok: true });
      case 'GET /_admin/stats':
        return sendJson(res, 200, control.stats());
      case 'POST /_admin/faults': {
        const body = await readJson();
        // Also accept { faults: [...] } since that is the natural shape for hand-written curl calls.
        const list = body && !Array.isArray(body) && typeof body === 'object' ? (body as { faults?: unknown }).faults : body;
        const rules = control.setFaults((list ?? []) as FaultRule[]);
        return sendJson(res, 200, { ok: true, rules });
      }
      case 'POST /_admin/rate-limits': {
        const body = await readJson();
        control.setRateLimits(validateRateLimits(body));
        return sendJson(res, 200, { ok: true, rateLimits: body ?? null });
      }
      case 'POST /_admin/latency': {
        control.setLatency(validateLatency((await readJson()) ?? {}));
        return sendJson(res, 200, { ok: true, latency: control.getLatency() });
      }
      case 'POST /_admin/reset':
        await readBody(req);
        control.reset();
        return sendJson(res, 200, { ok: true });
      default:
        await readBody(req);
        return sendError(res, 404, `not found: ${route}`);
    }
  } catch (err) {
    if (err instanceof HttpError) return sendError(res, err.status, err.message, err.errorType);
    return sendError(res, 400, err instanceof Error ? err.message : String(err));
  }
}
