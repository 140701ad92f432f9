/** Case `overhead`: N independent tasks through fanOut at L = 1 s against the ideal and the baselines, and where the time goes (2b). */
import { median, ms, num, pct, ratio, verdict, type Cell } from '../lib/format';
import { callMs } from '../lib/llm-admin';
import { type Measured } from '../lib/measure';
import { type CaseDef, foreign, L1, medWall, perTask, rpcBreakdown, type Target, wallRange, wftFails } from './common';
import { OVERHEAD_NS, runOverheadPoint } from './points';

export const overhead: CaseDef = {
  id: 'overhead',
  title: '2. Overhead: N independent tasks through fanOut at L = 1 s, k = min(N, 200), vs ideal ⌈N/k⌉ × L and the baselines',
  inQuick: true,
  async run(b, shared) {
    const points = b.quick ? [12, 100] : OVERHEAD_NS;
    const rows: Cell[][] = [];
    const targets: Target[] = [];
    const data: unknown[] = [];
    const timeline: Cell[][] = [];
    const rpcNotes: string[] = [];
    for (const n of points) {
      const p = await runOverheadPoint(b, shared, n);
      const k = p.k;
      const ok = p.ours.filter((m) => !m.error && m.llm.firstArrivalMs !== undefined);
      const med = (f: (m: Measured) => number) => ms(median(ok.map(f)));
      timeline.push([
        n,
        k,
        med((m) => m.llm.firstArrivalMs!),
        med((m) => m.llm.lastArrivalMs! - m.llm.firstArrivalMs!),
        n > k ? '(waves overlap)' : med((m) => m.llm.lastFinishMs! - m.llm.lastArrivalMs!),
        med((m) => m.wallMs - m.llm.lastFinishMs!),
        med((m) => m.wallMs - (m.wfWallMs ?? NaN)),
        num(perTask(p.ours, 'frontend', n), 1),
        num(perTask(p.ours, 'frontend:RecordActivityTaskHeartbeat', n), 2),
        num(perTask(p.ours, 'persistence', n), 1),
        wftFails(p.ours),
      ]);
      rpcNotes.push(`N=${n}, frontend RPCs per task: ${rpcBreakdown(p.ours[0], n)}`);
      const wall = medWall(p.ours);
      const ideal = Math.ceil(n / k) * callMs(L1);
      const inproc = medWall(p.inProcess);
      const py = medWall(p.python);
      const limit = n === 100 ? 1.1 : n === 1000 ? 1.2 : undefined;
      const met = limit !== undefined && Number.isFinite(wall / inproc) ? wall <= limit * inproc : undefined;
      rows.push([
        n,
        k,
        ms(ideal),
        wallRange(p.ours),
        ms(median(p.ours.filter((m) => m.wfWallMs).map((m) => m.wfWallMs!))),
        ms(inproc),
        p.python.length ? ms(py) : shared.python?.unavailable ? 'unavailable' : '—',
        pct(ideal / wall),
        ms((wall - ideal) / n),
        ms((wall - inproc) / n),
        ratio(wall / inproc),
        limit ? `≤ ${limit}× in-process: ${verdict(met)}` : '—',
        foreign(p.ours),
      ]);
      if (limit)
        targets.push({ case: 'overhead', target: `N=${n}, L=1 s, k=${k}: wall ≤ ${limit} × in-process`, measured: `${ms(wall)} vs ${ms(inproc)} = ${ratio(wall / inproc)}`, met });
      data.push({ n, k, idealMs: ideal, ours: p.ours, inProcess: p.inProcess, python: p.python });
    }
    return {
      tables: [
        {
          title: overhead.title,
          head: [
            'N',
            'k',
            'ideal',
            'wall (median, min–max)',
            'workflow own wall',
            'in-process',
            'python asyncio',
            'efficiency ideal/wall',
            'overhead/task vs ideal',
            'overhead/task vs in-process',
            'ours / in-process',
            'target',
            'foreign CPU',
          ],
          rows,
          notes: [
            'L = ttft 1000 ms, 20 output tokens, 0 ms/token; the worker runs with LLM_MAX_CONCURRENT = 200 (≥ k).',
            'overhead/task = (wall − reference) / N. Baselines run against the same LLM server process, interleaved with our runs.',
            ...(shared.python?.unavailable ? [shared.python.unavailable] : []),
          ],
        },
        {
          title: "2b. Where the time goes (medians, from the LLM server's request records and the client clock)",
          head: [
            'N',
            'k',
            'start → first LLM request',
            'first → last request starts (dispatch spread)',
            'last request start → last reply',
            'last reply → result at the client',
            'client wall − workflow own wall',
            'server RPCs / task',
            'heartbeat RPCs / task',
            'persistence ops / task',
            'failed workflow tasks per run',
          ],
          rows: timeline,
          notes: [
            ...rpcNotes,
            "start → first request: start RPC, first workflow task, scheduling every activity, matching, activity poll. Dispatch spread: the server hands the scheduled activities to the worker's pollers one at a time.",
            "last reply → result: activity completion RPC, the workflow task that completes the run, and the client's result long-poll.",
            "failed workflow tasks: WORKFLOW_TASK_FAILED/TIMED_OUT events in the run's history; FORCE_CLOSE_COMMAND = the server failed an in-flight workflow task because more than history.maximumBufferedEventsBatch (default 100) events (activity completions) arrived meanwhile; the worker then replays the history.",
          ],
        },
      ],
      targets,
      data,
    };
  },
};
