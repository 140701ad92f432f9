/** Case `scale`: one fanOut of 10,000 tasks, its child workflows and their histories against Temporal's limits. */
import { mb, ms, num, verdict } from '../lib/format';
import { histories } from '../lib/runwf';
import { type CaseDef, foreign, L100 } from './common';

export const scale: CaseDef = {
  id: 'scale',
  title: '4. Scale: one fanOut of 10,000 tasks (k = 200, L = 100 ms)',
  inQuick: false,
  async run(b) {
    const n = 10_000;
    const k = 200;
    const m = await b.fanOut({ label: `fanOut N=${n} k=${k} L=100 ms`, n, k, latency: L100, worker: { maxConcurrent: 200, fresh: true }, timeoutMs: 30 * 60_000 });
    const hs = await histories(b.env.client, m.workflowId);
    const largest = hs.reduce<(typeof hs)[number] | undefined>((a, h) => (!a || h.historyLength > a.historyLength ? h : a), undefined);
    const LIMIT_EVENTS = 51_200;
    const LIMIT_BYTES = 50 * 1024 * 1024;
    const within = hs.length > 0 && hs.every((h) => h.historyLength <= LIMIT_EVENTS && (h.historySize ?? 0) <= LIMIT_BYTES);
    const completed = !m.error && m.stats?.succeeded === n;
    const met = completed && within;
    const statuses = [...new Set(hs.map((h) => h.status))].join(', ');
    return {
      tables: [
        {
          title: scale.title,
          head: [
            'tasks',
            'outcome',
            'succeeded',
            'wall',
            'tasks/s',
            'workflows in the run',
            'largest history (events)',
            'largest history (bytes)',
            'worker peak RSS',
            'LLM calls',
            'target',
            'foreign CPU',
          ],
          rows: [
            [
              n,
              m.error ? `ERROR: ${m.error}` : 'completed',
              m.stats ? m.stats.succeeded : '—',
              ms(m.wallMs),
              m.error ? '—' : num(n / (m.wallMs / 1000)),
              `${hs.length} (${statuses || '?'})`,
              largest ? `${largest.historyLength} (${largest.type} ${largest.workflowId === m.workflowId ? 'root' : largest.workflowId})` : '—',
              largest?.historySize ? mb(largest.historySize / 1024 / 1024) : '—',
              mb(m.rssPeakMb),
              m.llm.calls,
              `complete, every history ≤ ${LIMIT_EVENTS} events / 50 MB: ${verdict(met)}`,
              foreign([m]),
            ],
          ],
          notes: [
            "Histories: every execution whose id starts with the run's id (child workflows included), lengths from describe(). Limits are Temporal's defaults (history count error 51,200 events, size 50 MB; warnings at 10,240 events / 10 MB).",
          ],
        },
      ],
      targets: [
        {
          case: 'scale',
          target: '10,000 tasks complete, every history within limits',
          measured: `${m.error ? `failed: ${m.error}` : `completed in ${ms(m.wallMs)}`}; largest history ${largest?.historyLength ?? '?'} events`,
          met,
        },
      ],
      data: { run: m, histories: hs },
    };
  },
};
