/** Summarises V8 .cpuprofile files (node --cpu-prof) of a worker: busy time per thread and per package. */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** What one thread did. */
export interface ThreadSummary {
  file: string;
  /** 'main' (activities, gRPC bridge), 'workflow' (the workflow sandbox thread) or 'other'. */
  thread: string;
  /** Busy time outside module loading. */
  busyMs: number;
  /** Busy time loading modules (start-up). */
  startupMs: number;
  sampledMs: number;
  /** Self time by package (or node internals, GC, project source), largest first. */
  byPackage: { name: string; ms: number }[];
  /** Self time of the heaviest functions. */
  topFunctions: { name: string; ms: number }[];
  /** Inclusive time (callees included) of a few known hot spots. */
  hotspots: { name: string; ms: number }[];
}

/**
 * Hot spots whose inclusive time is reported: [label, function name, url fragment]. Only
 * synchronous frames attribute well (an async function's continuations run under the microtask
 * queue, not under its own frame), so these are the workflow thread's.
 */
const HOTSPOTS: [string, string, string][] = [
  ['workflow activations (vm-shared activate)', 'activate', 'workflow/vm-shared'],
  ['SDK promise hook: a stack trace per promise created in workflow code', 'init', 'workflow/vm-shared'],
];

function packageOf(cf: ProfileNode['callFrame']): string {
  const m = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(cf.url);
  if (m) return m[1];
  if (cf.url.includes('workflow-bundle')) return 'workflow bundle (src/workflows + SDK)';
  if (cf.url.includes('/src/')) return 'project src/';
  if (cf.url.startsWith('node:')) return 'node internals';
  if (!cf.url) return cf.functionName.startsWith('(') ? cf.functionName : `native ${cf.functionName || '(anonymous)'}`;
  return cf.url.slice(0, 60);
}

export function summariseProfile(file: string): ThreadSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Samples under module loading are start-up, not per-task work: counted apart.
  const loading = new Map<number, boolean>();
  const isLoading = (id: number): boolean => {
    const known = loading.get(id);
    if (known !== undefined) return known;
    const cf = byId.get(id)!.callFrame;
    const up = parent.get(id);
    const v = cf.url.startsWith('node:internal/modules/') || (up !== undefined && isLoading(up));
    loading.set(id, v);
    return v;
  };
  const self = new Map<number, number>();
  let sampled = 0;
  p.samples.forEach((s, i) => {
    const d = p.timeDeltas[i] ?? 0;
    self.set(s, (self.get(s) ?? 0) + d);
    sampled += d;
  });
  const pk = new Map<string, number>();
  const fn = new Map<string, number>();
  let idle = 0;
  let bundle = 0;
  let bridge = 0;
  let startup = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (isLoading(id)) {
      startup += us;
      continue;
    }
    const name = packageOf(cf);
    if (name.startsWith('workflow bundle')) bundle += us;
    if (name === '@temporalio/core-bridge') bridge += us;
    pk.set(name, (pk.get(name) ?? 0) + us);
    const f = `${cf.functionName || '(anonymous)'} (${cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/work\/main\//, '')}:${cf.lineNumber})`;
    fn.set(f, (fn.get(f) ?? 0) + us);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, us]) => ({ name: name.length > 90 ? `${name.slice(0, 87)}...` : name, ms: Math.round(us / 1000) }));
  // Inclusive time: a sample counts once for every distinct hot spot on its stack.
  const hot = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      for (const [label, fnName, url] of HOTSPOTS) if (cf.functionName === fnName && cf.url.includes(url)) seen.add(label);
    }
    for (const label of seen) hot.set(label, (hot.get(label) ?? 0) + us);
  }
  return {
    hotspots: top(hot, HOTSPOTS.length),
    file: path.basename(file),
    // The workflow thread runs the bundle; the main thread talks to the Rust core (core-bridge).
    thread: bundle > bridge ? 'workflow' : bridge > 0 ? 'main' : 'other',
    busyMs: Math.round((sampled - idle - startup) / 1000),
    startupMs: Math.round(startup / 1000),
    sampledMs: Math.round(sampled / 1000),
    byPackage: top(pk, 12),
    topFunctions: top(fn, 12),
  };
}

export function summariseProfiles(dir: string): ThreadSummary[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summariseProfile(path.join(dir, f)))
    .sort((a, b) => b.busyMs - a.busyMs);
}
