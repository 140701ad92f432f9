/** Case `profile`: a node --cpu-prof profile of the shipped worker during fanOut N = 1000, k = 200, L = 1 s. */
import fs from 'node:fs';
import path from 'node:path';
import { summariseProfiles, type ThreadSummary } from '../lib/cpuprofile';
import { ms, num, type TableData } from '../lib/format';
import { type CaseDef, L0, L1 } from './common';
import { type Layout } from '../lib/runwf';

export const profile: CaseDef = {
  id: 'profile',
  title: '9. CPU profile of the shipped worker (node --cpu-prof) during fanOut N=1000, k=200, L=1 s',
  inQuick: false,
  async run(b) {
    const tables: TableData[] = [];
    // A CPU profile of the shipped worker over the N=1000, k=200, L=1 s point.
    const profDir = path.join(b.env.tmpDir, 'cpu-profile');
    fs.mkdirSync(profDir, { recursive: true });
    const prof = await b.fanOut({
      label: 'profiled (node --cpu-prof) N=1000 k=200 L=1 s',
      n: 1000,
      k: 200,
      latency: process.env.BENCH_PROFILE_L0 ? L0 : L1,
      layout: (process.env.BENCH_PROFILE_LAYOUT as Layout | undefined) ?? 'split',
      worker: { maxConcurrent: 200, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`], fresh: true },
    });
    await b.env.stopWorker(); // the profile is written when the worker exits
    if (process.env.BENCH_PROFILE_KEEP) fs.cpSync(profDir, process.env.BENCH_PROFILE_KEEP, { recursive: true });
    const threads: ThreadSummary[] = summariseProfiles(profDir);
    const main = threads.find((t) => t.thread === 'main');
    const wf = threads.find((t) => t.thread === 'workflow');
    const jsMs = threads.reduce((s, t) => s + t.busyMs, 0);
    if (threads.length) {
      tables.push({
        title: profile.title,
        head: ['thread', 'busy (excl. start-up)', 'per task', 'self time by package (top 8)'],
        rows: [
          ...threads
            .filter((t) => t.busyMs > 50)
            .map((t) => [
              t.thread,
              ms(t.busyMs),
              `${num(t.busyMs / 1000, 2)} ms`,
              t.byPackage
                .slice(0, 8)
                .map((p) => `${p.name} ${p.ms}`)
                .join(', '),
            ]),
          [
            'worker process total (all threads, Rust core included)',
            ms(prof.cpu.worker * 1000),
            `${num(prof.cpu.worker, 2)} ms`,
            `JS threads ${ms(jsMs)}; the rest (Rust core, gRPC, start-up) ${ms(prof.cpu.worker * 1000 - jsMs)}`,
          ],
          ['Temporal dev server', ms(prof.cpu.temporal * 1000), `${num(prof.cpu.temporal, 2)} ms`, ''],
        ],
        notes: [
          `inclusive hot spots: ${threads.flatMap((t) => t.hotspots.map((h) => `${h.name} ${ms(h.ms)} (${t.thread} thread)`)).join('; ')}`,
          `wall of the profiled run ${ms(prof.wallMs)} (profiling slows the worker a little); top functions, main thread: ${
            main?.topFunctions
              .slice(0, 5)
              .map((f) => `${f.name} ${f.ms} ms`)
              .join('; ') ?? '—'
          }; workflow thread: ${
            wf?.topFunctions
              .slice(0, 5)
              .map((f) => `${f.name} ${f.ms} ms`)
              .join('; ') ?? '—'
          }`,
        ],
      });
    }
    return { tables, targets: [], data: { run: prof, threads } };
  },
};
