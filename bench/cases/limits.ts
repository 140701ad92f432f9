/** Case `limits`: concurrency caps (workflow, worker, sharded run) and LLM_RPM as the LLM server saw them. */
import { ms, num, verdict } from '../lib/format';
import { arrivalsPerWindow, type Latency } from '../lib/llm-admin';
import { type CaseDef, DEFAULT_WORKER, L100 } from './common';

export const limits: CaseDef = {
  id: 'limits',
  title: '5. Limits hold under load: concurrency caps and the requests-per-minute limit, as the LLM server saw them',
  inQuick: true,
  async run(b) {
    const n = b.quick ? 100 : 200;
    const lHalf: Latency = { ttftMs: 500, perTokenMs: 0, outputTokens: 20 };
    const a = await b.fanOut({ label: `workflow maxConcurrent 50 (worker 200), N=${n}`, n, k: 50, latency: lHalf, worker: DEFAULT_WORKER });
    // A fanOut big enough to shard into child workflows must keep the same overall cap.
    const shardN = 3000;
    const shardK = 50;
    const sh = await b.probeFanOut({
      label: `sharded fanOut N=${shardN} k=${shardK}`,
      n: shardN,
      k: shardK,
      latency: { ttftMs: 4000, perTokenMs: 0, outputTokens: 5 },
      worker: DEFAULT_WORKER,
      observeMs: 3000,
    });
    const capS = sh.maxInFlight <= shardK;
    const c = await b.fanOut({ label: `worker LLM_MAX_CONCURRENT=50 (workflow k=200), N=${n}`, n, k: 200, latency: lHalf, worker: { maxConcurrent: 50 } });
    // 600 requests per minute, scaled to a 1 s window so the case stays short: LLM_RPM=10 per
    // LLM_LIMIT_WINDOW_MS=1000, held by the llmLimiter workflow and smoothed by the server's rate.
    const rpm = 600;
    const perSec = rpm / 60;
    const nr = b.quick ? 40 : 80;
    const r = await b.fanOut({
      label: `LLM_RPM=${perSec} per 1 s window (= ${rpm}/min), N=${nr}`,
      n: nr,
      k: nr,
      latency: L100,
      worker: { maxConcurrent: 200, rpm: perSec, extraEnv: { LLM_LIMIT_WINDOW_MS: '1000' } },
      keepArrivals: true,
    });
    const w = arrivalsPerWindow(r.arrivals ?? [], 1000);
    const span = r.arrivals?.length ? (Math.max(...r.arrivals) - Math.min(...r.arrivals)) / 1000 : NaN;
    const rate = r.arrivals && span > 0 ? (r.arrivals.length - 1) / span : NaN;
    const capA = a.error ? undefined : a.llm.maxInFlight <= 50;
    const capC = c.error ? undefined : c.llm.maxInFlight <= 50;
    const rpmMet = r.error ? undefined : w.sliding <= perSec;
    return {
      tables: [
        {
          title: limits.title,
          head: ['limit', 'run', 'measured', 'limit value', 'check', 'wall'],
          rows: [
            ['workflow maxConcurrent', `fanOut N=${n}, k=50, L=500 ms`, `max ${a.llm.maxInFlight} in flight (${a.llm.calls} calls)`, '≤ 50', verdict(capA), ms(a.wallMs)],
            ['worker LLM_MAX_CONCURRENT', `fanOut N=${n}, k=200, L=500 ms`, `max ${c.llm.maxInFlight} in flight (${c.llm.calls} calls)`, '≤ 50', verdict(capC), ms(c.wallMs)],
            [
              'workflow maxConcurrent, sharded run',
              `fanOut N=${shardN} (${sh.workflows - 1} child workflows), k=${shardK}, L=4 s, first 3 s`,
              `max ${sh.maxInFlight} in flight (${sh.calls} calls)`,
              `≤ ${shardK}`,
              verdict(capS),
              'terminated after 3 s',
            ],
            [
              `LLM_RPM=${rpm}`,
              `fanOut N=${nr}, k=${nr}, L=100 ms`,
              `max ${w.sliding} in any 1 s window (sliding), ${w.tumbling} in a fixed 1 s window; mean ${num(rate, 1)}/s over ${num(span, 1)} s`,
              `≤ ${perSec} per 1 s`,
              verdict(rpmMet),
              ms(r.wallMs),
            ],
          ],
          notes: [
            `arrivals per fixed 1 s window (from the first request): ${w.windows.join(' ')}`,
            'LLM_RPM is held per window by the llmLimiter workflow (shared by all workers) and also sets maxTaskQueueActivitiesPerSecond (the server-side token bucket, which alone lets a first-second burst through).',
          ],
        },
      ],
      targets: [
        {
          case: 'limits',
          target: 'maxConcurrent 50: LLM server maxInFlight ≤ 50',
          measured: `workflow cap: ${a.llm.maxInFlight}, worker cap: ${c.llm.maxInFlight}, sharded N=${shardN}: ${sh.maxInFlight}`,
          met: capA === undefined || capC === undefined ? undefined : capA && capC && capS,
        },
        { case: 'limits', target: `LLM_RPM=${rpm}: ≤ ${perSec} requests in any 1 s window`, measured: `max ${w.sliding} (sliding), ${w.tumbling} (fixed windows)`, met: rpmMet },
      ],
      data: { workflowCap: a, workerCap: c, sharded: sh, rpm: { run: r, windows: w, meanRate: rate } },
    };
  },
};
