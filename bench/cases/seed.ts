/** Case `seed`: the seed's headline, competitiveIntel over 12 companies, sequential vs parallel against the critical path. */
import { median, mb, ms, ratio, verdict, type Cell } from '../lib/format';
import { type Measured, type WfResult } from '../lib/measure';
import { type CaseDef, DEFAULT_WORKER, foreign, L3, medWall, reps, wallRange } from './common';

export const seed: CaseDef = {
  id: 'seed',
  title: '1. Seed headline: competitiveIntel, 12 companies, L = 3 s (ttft 1000 ms + 250 tokens × 8 ms)',
  inQuick: false,
  async run(b) {
    type Intel = WfResult & { stats: { idealMakespanMs: number } };
    const seq = await b.measure<Intel>({
      label: 'competitiveIntel sequential (maxConcurrent 1)',
      worker: DEFAULT_WORKER,
      latency: L3,
      type: 'competitiveIntel',
      input: { maxConcurrent: 1 },
      timeoutMs: 600_000,
    });
    const par: (Measured & { result?: Intel })[] = [];
    for (let i = 0; i < reps(b); i++) {
      par.push(
        await b.measure<Intel>({
          label: `competitiveIntel parallel (default) #${i + 1}`,
          worker: DEFAULT_WORKER,
          latency: L3,
          type: 'competitiveIntel',
          input: {},
          timeoutMs: 300_000,
        }),
      );
    }
    const parWall = medWall(par);
    const ideal = median(par.filter((m) => m.stats?.idealMakespanMs).map((m) => m.stats!.idealMakespanMs!));
    const row = (name: string, ms_: Measured[], wall: number): Cell[] => {
      const m = ms_[0];
      const idealOf = median(ms_.filter((x) => x.stats?.idealMakespanMs).map((x) => x.stats!.idealMakespanMs!));
      return [
        name,
        m?.stats ? `${m.stats.succeeded}/${m.stats.total}` : (m?.error ?? '—'),
        wallRange(ms_),
        ms(median(ms_.filter((x) => x.stats).map((x) => x.stats!.sumDurationMs))),
        ratio(seqWall / wall, 1),
        ratio(median(ms_.filter((x) => x.stats).map((x) => x.stats!.sumDurationMs / x.wallMs)), 1),
        ms(idealOf),
        ratio(wall / idealOf),
        mb(Math.max(...ms_.map((x) => x.rssPeakMb))),
        foreign(ms_),
      ];
    };
    const seqWall = seq.error ? NaN : seq.wallMs;
    const met = Number.isFinite(parWall / ideal) ? parWall <= 1.05 * ideal : undefined;
    return {
      tables: [
        {
          title: seed.title,
          head: [
            'mode',
            'calls ok',
            'wall',
            'sum of call durations',
            'speedup vs sequential',
            'sum / wall',
            'ideal (critical path)',
            'wall / ideal',
            'worker peak RSS',
            'foreign CPU',
          ],
          rows: [row('sequential (maxConcurrent 1)', [seq], seqWall), [...row('parallel (default)', par, parWall)]],
          notes: [
            'target: parallel wall ≤ 1.05 × ideal (ideal = stats.idealMakespanMs, the critical path over the measured call durations: research → analyze → summary).',
            `parallel: ${verdict(met)} (${ratio(parWall / ideal)}); wall is client-observed (start request → result, report.md written); the workflow's own wall clock: ${ms(median(par.filter((m) => m.wfWallMs).map((m) => m.wfWallMs!)))}.`,
            "foreign CPU: share of the 2 cores used by processes that are not the bench's during the runs (other people's builds/tests): noise.",
          ],
        },
      ],
      targets: [{ case: 'seed', target: '12-company wall ≤ 1.05 × ideal', measured: `${ms(parWall)} vs ideal ${ms(ideal)} = ${ratio(parWall / ideal)}`, met }],
      data: { sequential: seq, parallel: par },
    };
  },
};
