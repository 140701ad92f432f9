import { BenchEnv, cpuDelta } from './lib/env';
import { installCleanup } from './lib/procs';
import { runWorkflow } from './lib/runwf';
import { fanOutTasks } from './lib/tasks';
import { runInProcess } from './baselines/in-process';

async function main() {
  installCleanup();
  const t0 = Date.now();
  const env = await BenchEnv.create(console.log);
  try {
    const w = await env.workerFor({ maxConcurrent: Number(process.env.WMC ?? 200), variant: process.env.VAR ? JSON.parse(process.env.VAR) : undefined, nodeArgs: process.env.WNO ? process.env.WNO.split(' ') : undefined, launcher: (process.env.LAUNCH as any) ?? 'tsx' });
    console.log('setup', Date.now() - t0);
    await env.llm.prepare({ ttftMs: 0, perTokenMs: 0, outputTokens: 20 });
    const warm = await runWorkflow(env.client, 'fanOut', { tasks: fanOutTasks(20), maxConcurrent: 20 }, { taskQueue: w.taskQueue, idPrefix: 'warm' });
    console.log('warm', warm.wallMs, warm.error, 'rss after warmup', w.rss.peakMb().toFixed(0));
    for (const spec of JSON.parse(process.env.SPECS ?? '[[100,100,1000]]') as [number, number, number][]) {
      const [n, k, L] = spec;
      await env.llm.prepare({ ttftMs: L, perTokenMs: 0, outputTokens: 20 });
      w.rss.reset();
      const c0 = env.cpu();
      const ts = Date.now();
      const r = await runWorkflow<any>(env.client, 'fanOut', { tasks: fanOutTasks(n), maxConcurrent: k }, { taskQueue: w.taskQueue, idPrefix: 'p' });
      const cd = cpuDelta(c0, env.cpu());
      const st = await env.llm.stats();
      const rq = st.requests;
      const arr = rq.map((x) => x.receivedAt - ts).sort((a, b) => a - b);
      const fin = rq.map((x) => (x.finishedAt ?? 0) - ts).sort((a, b) => a - b);
      const q = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
      console.log('timeline arrivals p0/p50/p100', q(arr, 0), q(arr, 0.5), q(arr, 1), 'finish p0/p100', q(fin, 0), q(fin, 1), 'wall', Math.round(r.wallMs));
      console.log(JSON.stringify({ n, k, L, wall: Math.round(r.wallMs), wfWall: r.result?.stats.wallClockMs, err: r.error, calls: st.calls, maxInFlight: st.maxInFlight, rss: w.rss.peakMb().toFixed(0), cpu: cd, tps: (n / r.wallMs * 1000).toFixed(0) }));
      if (process.env.INPROC) {
        const ip = await runInProcess({ n, k, baseURL: env.llm.url, warmup: true });
        console.log('inproc', ip);
      }
    }
  } finally {
    await env.close(true);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
