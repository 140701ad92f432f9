/**
 * Child processes of the bench: every process it starts is spawned detached (its own process
 * group) and registered here, so it can be stopped by its group id on success, on error, on
 * Ctrl-C and on exit. Nothing else is ever signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** A process the bench started. */
export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string | null>;
  isAlive(): boolean;
  logFile?: string;
}

const live = new Set<Proc>();

/** Wraps an already spawned child (e.g. from spawnDevServer) so cleanup knows it. */
export function adopt(name: string, child: ChildProcess, logFile?: string): Proc {
  if (child.pid === undefined) throw new Error(`${name}: failed to start`);
  let alive = true;
  const exited = new Promise<number | string | null>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      live.delete(p);
      resolve(code ?? signal);
    });
    child.once('error', () => {
      alive = false;
      live.delete(p);
      resolve(null);
    });
  });
  const p: Proc = { name, child, pid: child.pid, exited, isAlive: () => alive, logFile };
  live.add(p);
  return p;
}

/** Spawns a command in its own process group with stdout/stderr appended to logFile. */
export function start(name: string, cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string }): Proc {
  const fd = fs.openSync(o.logFile, 'a');
  try {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', fd, fd] });
    return adopt(name, child, o.logFile);
  } finally {
    fs.closeSync(fd);
  }
}

function signalGroup(p: Proc, signal: NodeJS.Signals): void {
  try {
    process.kill(-p.pid, signal);
  } catch {
    try {
      process.kill(p.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Whether any process of the group led by pid is still there. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a process group: SIGTERM, wait for every member up to graceMs, then SIGKILL. */
export async function stop(p: Proc, graceMs = 5000): Promise<void> {
  if (!p.isAlive() && !groupAlive(p.pid)) return;
  signalGroup(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  await Promise.race([p.exited, sleep(graceMs)]);
  // The leader may exit before other members of its group: wait for the whole group.
  while (groupAlive(p.pid) && Date.now() < deadline) await sleep(50);
  if (groupAlive(p.pid)) {
    signalGroup(p, 'SIGKILL');
    await Promise.race([p.exited, sleep(2000)]);
  }
  live.delete(p);
}

/** Stops everything still registered. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => stop(p)));
}

let installed = false;

/** Ctrl-C, SIGTERM and process exit stop every registered process group. */
export function installCleanup(onSignal?: () => void): void {
  if (installed) return;
  installed = true;
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      for (const p of live) signalGroup(p, 'SIGKILL');
      process.exit(130);
    }
    stopping = true;
    console.error(`\nbench: ${signal}, stopping the processes it started...`);
    onSignal?.();
    void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', () => {
    for (const p of live) signalGroup(p, 'SIGKILL');
  });
}

// ---------------------------------------------------------------------------------------------
// /proc readings

/** A field of /proc/<pid>/status in MB (VmRSS, VmHWM), or undefined when the process is gone. */
export function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = 100;

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of this process's children that have exited and been waited for (cutime + cstime of
 * /proc/self/stat; a child's own waited-for descendants included, e.g. tsx's node process). Across
 * a window in which only one child exits, the delta is that child's whole CPU, start-up included.
 */
export function exitedChildrenCpuSeconds(): number {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[13]) + Number(rest[14])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Tracks the CPU seconds of a process while it runs (a finished process has no /proc entry left to read). */
export class ProcCpu {
  private last = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    everyMs = 100,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    this.sample();
  }
  private sample(): void {
    this.last = cpuSeconds(this.pid) ?? this.last;
  }
  /** Stops polling; the CPU seconds seen last. */
  stop(): number {
    clearInterval(this.timer);
    return this.last;
  }
}

/** Polls a process's VmRSS and remembers the peak since the last reset. */
export class RssMeter {
  private peak = 0;
  private timer?: NodeJS.Timeout;
  constructor(
    readonly pid: number,
    private readonly everyMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
    return this;
  }

  private sample(): void {
    const v = statusMb(this.pid, 'VmRSS');
    if (v !== undefined && v > this.peak) this.peak = v;
  }

  /** Starts a new measurement window from the current RSS. */
  reset(): void {
    this.peak = 0;
    this.sample();
  }

  /** Peak RSS (MB) since the last reset. */
  peakMb(): number {
    this.sample();
    return this.peak;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** CPU seconds the whole machine has been busy (all cores; /proc/stat, idle and iowait excluded). */
export function machineBusySeconds(): number {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - v[3] - v[4]) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds of this process (the bench itself). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
