/**
 * What `client limits` shows of the workers' own flow control: how many LLM worker processes
 * the server sees polling the queue, and — from workers' Prometheus endpoints (`--metrics`) —
 * each one's adaptive concurrency, calls in flight and waiting, the limits the provider
 * advertises, throttles waited out and whether it failed open.
 */

/** One worker's flow state per model, read from its metrics. */
export interface WorkerFlow {
  endpoint: string;
  error?: string;
  failedOpen?: boolean;
  models: Record<string, { concurrencyLimit?: number; inFlight?: number; waiting?: number; advertised: Record<string, number>; throttled: number }>;
}

/** Parses the Prometheus text exposition format's samples: name, labels, value. */
export function parseSamples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    const value = Number(m[4]);
    if (Number.isFinite(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The flow state a worker's metrics endpoint reports. */
export function flowFromMetrics(endpoint: string, text: string): WorkerFlow {
  const w: WorkerFlow = { endpoint, models: {} };
  const model = (name: string) => (w.models[name] ??= { advertised: {}, throttled: 0 });
  for (const s of parseSamples(text)) {
    const m = s.labels.model;
    if (s.name === 'llm_limiter_failed_open') w.failedOpen = s.value === 1;
    if (!m) continue;
    if (s.name === 'llm_flow_concurrency_limit') model(m).concurrencyLimit = s.value;
    else if (s.name === 'llm_flow_in_flight') model(m).inFlight = s.value;
    else if (s.name === 'llm_flow_waiting') model(m).waiting = s.value;
    else if (s.name === 'llm_provider_limit' && s.labels.bucket) model(m).advertised[s.labels.bucket] = s.value;
    else if (s.name.startsWith('llm_throttled')) model(m).throttled += s.value;
  }
  return w;
}

/** Reads each endpoint; an unreachable one is reported, not fatal. */
export async function readWorkerFlows(endpoints: string[]): Promise<WorkerFlow[]> {
  return Promise.all(
    endpoints.map(async (endpoint) => {
      try {
        const r = await fetch(endpoint, { signal: AbortSignal.timeout(5000) });
        if (!r.ok) return { endpoint, error: `HTTP ${r.status}`, models: {} };
        return flowFromMetrics(endpoint, await r.text());
      } catch (err) {
        return { endpoint, error: err instanceof Error ? err.message : String(err), models: {} };
      }
    }),
  );
}

/** Lines for the human-readable output. */
export function workerFlowLines(flows: WorkerFlow[]): string[] {
  const lines: string[] = [];
  for (const w of flows) {
    if (w.error) {
      lines.push(`  ${w.endpoint}: unreachable (${w.error})`);
      continue;
    }
    lines.push(`  ${w.endpoint}${w.failedOpen ? ' (failed open: the limiter does not answer)' : ''}`);
    for (const [m, f] of Object.entries(w.models)) {
      const adv = Object.entries(f.advertised)
        .map(([b, v]) => `${b} ${v}`)
        .join(', ');
      lines.push(
        `    ${m}: concurrency limit ${f.concurrencyLimit ?? '?'}, ${f.inFlight ?? 0} in flight, ${f.waiting ?? 0} waiting, ${f.throttled} throttles waited out${adv ? `; the provider advertises ${adv} per window` : ''}`,
      );
    }
  }
  return lines;
}
