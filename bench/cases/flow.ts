/** Case `flow`: token admission, adaptive concurrency against static limits, learned buckets, cold start, budget and cache. */
import { type WorkerConfig } from '../lib/env';
import { median, ms, ratio, verdict, type Cell } from '../lib/format';
import { type Latency } from '../lib/llm-admin';
import { type Measured } from '../lib/measure';
import { promptTasks } from '../lib/tasks';
import { type CaseDef, DEFAULT_WORKER, L1, medWall, reps, type Target, wallRange } from './common';

/** Flow control: shared token admission, adaptive concurrency, budgets, cache. */
export const flow: CaseDef = {
  id: 'flow',
  title: '11. Flow control: token admission across a window, adaptive concurrency vs static limits, budget, cache',
  inQuick: true,
  async run(b) {
    const rows: Cell[][] = [];
    const data: Record<string, unknown> = {};
    const tasks = (n: number, pad = 0) => promptTasks(n, (i) => `flow task ${i}. ${'x'.repeat(pad)}`);
    const fast: Latency = { ttftMs: 200, perTokenMs: 0, outputTokens: 20 };

    // Token admission: ~50 input tokens per call, 500 per 2 s window, 60 calls in one run.
    const adm = await b.measure({
      label: 'LLM_ITPM=500 per 2 s window (a token bucket)',
      worker: { maxConcurrent: 200, extraEnv: { LLM_ITPM: '500', LLM_LIMIT_WINDOW_MS: '2000' } },
      latency: fast,
      type: 'fanOut',
      input: { tasks: tasks(60, 180), maxConcurrent: 60 },
      keepArrivals: true,
    });
    // The limit is a token bucket (as the API's): 500 tokens, refilled at 500 per 2 s. Over any
    // span of d ms the LLM server may see at most 500 + 500 × d / 2000 (+100 ms for transit).
    const reqs = [...(adm.requestTokens ?? [])].sort((a, c) => a.at - c.at);
    let excess = -Infinity;
    for (let i = 0; i < reqs.length; i++) {
      let sum = 0;
      for (let j = i; j < reqs.length; j++) {
        sum += reqs[j].input;
        excess = Math.max(excess, sum - (500 * (reqs[j].at - reqs[i].at + 100)) / 2000);
      }
    }
    rows.push([
      'admission: input-token bucket shared by the fleet',
      '60 calls × ~50 tokens, bucket 500 per 2 s',
      `at most ${Math.round(excess)} tokens beyond the refill over any span (bucket: 500); wall ${ms(adm.wallMs)}`,
      verdict(excess <= 500),
    ]);
    data.admission = adm;

    // Flow control on by default: the provider answers 429 (retry-after 1 s) above 4 concurrent
    // calls. The configs are interleaved per repetition, each on a fresh worker (nothing learned)
    // but the "second run" ones, which run again on the worker the previous config used.
    const overload = [{ fault: { kind: 'overload' as const, maxConcurrent: 4, retryAfterS: 1 } }];
    const OFF = { LLM_FLOW_CONTROL: 'off' };
    // Flow control is per model: the warm-up of a fresh worker grows the default model's window,
    // so the cold-start rows call one it has not seen.
    const FRESH_MODEL = 'claude-haiku-4-5';
    // The shipped default (the other cases' workers start at 1000, see bench/lib/env.ts).
    const SHIPPED = { LLM_FLOW_INITIAL_CONCURRENCY: '16' };
    const configs: [string, WorkerConfig, number][] = [
      ['static k=24, flow control off (the old default)', { maxConcurrent: 200, extraEnv: OFF }, 24],
      ['default flow control (nothing configured), k=60, fresh worker', { maxConcurrent: 200, extraEnv: SHIPPED }, 60],
      ['default flow control, second run (limit learned)', { maxConcurrent: 200, extraEnv: SHIPPED }, 60],
      ['fleet limiter (LLM_ADAPTIVE_MAX=24) + default flow control, fresh', { maxConcurrent: 200, extraEnv: { ...SHIPPED, LLM_ADAPTIVE_MAX: '24' } }, 24],
      ['static k=4 (hand-tuned), flow control off', { maxConcurrent: 200, extraEnv: OFF }, 4],
    ];
    const ad: Record<string, Measured[]> = Object.fromEntries(configs.map(([l]) => [l, []]));
    for (let i = 0; i < reps(b); i++) {
      for (const [label, worker, k] of configs) {
        const w = label.includes('second run') ? worker : { ...worker, fresh: true };
        // A model the worker's warm-up did not call: flow control knows nothing about it yet.
        ad[label].push(
          await b.measure({
            label: `${label} #${i + 1}`,
            worker: w,
            latency: { ttftMs: 500, perTokenMs: 0, outputTokens: 10 },
            faults: overload,
            type: 'fanOut',
            input: { tasks: tasks(60), maxConcurrent: k, maxAttempts: 30, model: FRESH_MODEL },
          }),
        );
      }
    }
    const med429 = (xs: Measured[]) => median(xs.map((m) => m.llm.throttled));
    const failed = (xs: Measured[]) => median(xs.map((m) => (m.stats as { failed?: number } | undefined)?.failed ?? NaN));
    for (const [label] of configs) {
      const xs = ad[label];
      rows.push([
        `concurrency: ${label}`,
        '60 calls, 429 above 4 in flight (retry-after 1 s), L = 500 ms',
        `${med429(xs)} × 429 (${xs.map((m) => m.llm.throttled).join(', ')}), ${failed(xs)} failed, wall ${wallRange(xs)}${xs.some((m) => m.error) ? `, ${xs.find((m) => m.error)!.error}` : ''}`,
        '',
      ]);
    }
    const [tooHigh, byDefault, learned, fleet, tuned] = configs.map(([l]) => ad[l]);
    const fewer = med429(byDefault) <= 3 * 4 + 4;
    const speed = medWall(byDefault) / medWall(tuned);
    const targets: Target[] = [
      {
        case: 'flow',
        target: 'default env: every task succeeds, 429s ≤ a small multiple of K (≤ 4K = 16)',
        measured: `${failed(byDefault)} failed, ${med429(byDefault)} × 429 (static k=24 without flow control: ${med429(tooHigh)}; learned: ${med429(learned)}; fleet limiter: ${med429(fleet)})`,
        met: fewer && failed(byDefault) === 0,
      },
      {
        case: 'flow',
        target: 'default env: wall ≤ 1.1 × hand-tuned static k=4',
        measured: `${ms(medWall(byDefault))} vs ${ms(medWall(tuned))} = ${ratio(speed)} (learned: ${ratio(medWall(learned) / medWall(tuned))})`,
        met: speed <= 1.1,
      },
    ];
    data.adaptive = ad;

    // Learned token buckets: the provider's input-token bucket (600 per 2 s window, 300/s) is far
    // smaller than the run (60 calls of ~55 tokens); nothing configured but the window's length.
    const bucketRuns: Measured[] = [];
    for (let i = 0; i < reps(b); i++) {
      bucketRuns.push(
        await b.measure({
          label: `learned input-token bucket #${i + 1}`,
          worker: { maxConcurrent: 200, extraEnv: { ...SHIPPED, LLM_LIMIT_WINDOW_MS: '2000' }, fresh: true },
          latency: { ttftMs: 200, perTokenMs: 0, outputTokens: 10 },
          rateLimits: { itpm: 600, windowMs: 2000 },
          type: 'fanOut',
          input: { tasks: tasks(60, 180), maxConcurrent: 60, maxAttempts: 2, model: FRESH_MODEL },
          keepArrivals: true,
        }),
      );
    }
    const okTokens = (m: Measured) => (m.requestTokens ?? []).reduce((n, q) => n + q.input, 0);
    const bucketIdeal = (m: Measured) => ((okTokens(m) - 600) / 300) * 1000 + 200;
    const bucketRatio = median(bucketRuns.map((m) => m.wallMs / bucketIdeal(m)));
    rows.push([
      'learned buckets: default env vs a 600-token/2 s input bucket',
      '60 calls × ~55 input tokens',
      `${med429(bucketRuns)} × 429 (${bucketRuns.map((m) => m.llm.throttled).join(', ')}), ${failed(bucketRuns)} failed, wall ${wallRange(bucketRuns)}, bucket ideal ${ms(median(bucketRuns.map(bucketIdeal)))} = ${ratio(bucketRatio)}`,
      '',
    ]);
    targets.push({
      case: 'flow',
      target: "learned buckets: every task succeeds, a handful of 429s, wall ≤ 1.15 × the bucket's ideal",
      measured: `${failed(bucketRuns)} failed, ${med429(bucketRuns)} × 429, ${ratio(bucketRatio)} (ideal = tokens beyond the first bucket ÷ refill + one call)`,
      met: failed(bucketRuns) === 0 && med429(bucketRuns) <= 16 && bucketRatio <= 1.15,
    });
    data.buckets = bucketRuns;

    // The cold start of the shipped default against a provider with room for everything: N = 100
    // at L = 1 s and k = 100 on a fresh worker (warmed up with 20 calls, so its window is 36),
    // against one that starts at 1000 (what the overhead case measures).
    const coldRuns: [string, Measured][] = [];
    for (const [label, initial] of [
      ['shipped default (16, slow start)', '16'],
      ['LLM_FLOW_INITIAL_CONCURRENCY=1000', '1000'],
    ] as const) {
      coldRuns.push([
        label,
        await b.measure({
          label: `cold start: ${label}`,
          worker: { maxConcurrent: 200, extraEnv: { LLM_FLOW_INITIAL_CONCURRENCY: initial }, fresh: true },
          latency: L1,
          type: 'fanOut',
          input: { tasks: tasks(100), maxConcurrent: 100 },
        }),
      ]);
    }
    rows.push(['cold start: N=100, L=1 s, k=100, fresh worker', coldRuns.map(([l]) => l).join(' vs '), coldRuns.map(([l, m]) => `${l}: ${ms(m.wallMs)}`).join('; '), '']);
    data.coldStart = coldRuns;

    // Budget: 40 calls of ~26 tokens, capped at 300 tokens.
    const bud = await b.measure({
      label: 'budget maxTokens=300',
      worker: DEFAULT_WORKER,
      latency: fast,
      type: 'fanOut',
      input: { tasks: tasks(40), maxConcurrent: 4, budget: { maxTokens: 300 } },
    });
    const spent = bud.stats?.tokens ? bud.stats.tokens.input + bud.stats.tokens.output : NaN;
    const notRun = (bud.results ?? []).filter((r) => (r as { errorType?: string }).errorType === 'BudgetExceeded').length;
    rows.push(['budget: maxTokens 300, 4 in flight', '40 calls', `${bud.llm.calls} calls made, ${spent} tokens spent, ${notRun} tasks not run (BudgetExceeded)`, '']);
    data.budget = bud;

    // Cache: the same 100 calls twice with cache on.
    const cacheIn = { tasks: tasks(100), maxConcurrent: 100, cache: { ttlSeconds: 3600 } };
    const c1 = await b.measure({ label: 'cache: first run', worker: DEFAULT_WORKER, latency: L1, type: 'fanOut', input: cacheIn });
    const c2 = await b.measure({ label: 'cache: second run', worker: DEFAULT_WORKER, latency: L1, type: 'fanOut', input: cacheIn });
    const hits = c2.stats?.cacheHits ?? NaN;
    rows.push([
      'cache: 100 identical calls, run twice',
      'L = 1 s',
      `first ${ms(c1.wallMs)} (${c1.llm.calls} calls), second ${ms(c2.wallMs)} (${c2.llm.calls} calls, ${hits} cache hits)`,
      '',
    ]);
    data.cache = { first: c1, second: c2 };

    return {
      tables: [
        {
          title: flow.title,
          head: ['mechanism', 'run', 'measured', 'check'],
          rows,
          notes: ["Every figure comes from the LLM server's own request records or the run results; nothing is asserted."],
        },
      ],
      targets,
      data,
    };
  },
};
