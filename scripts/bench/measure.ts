import fs from 'node:fs';
import { rssMb } from './server-process';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time (user + system, ms) used so far by a process, or undefined when it is gone. */
function cpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** CPU time (ms) of the children a process has reaped (exited backends, autovacuum workers). */
function reapedChildrenCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) * TICK_MS;
  } catch {
    return 0;
  }
}

/**
 * The postmaster and its children (backends, WAL writer, autovacuum...): PostgreSQL's CPU, wherever
 * it runs. Children that exited during a window (an autovacuum worker, a closed connection) count
 * through the postmaster's reaped-children time.
 */
function postgresCpuMs(postmaster: number): number {
  let total = (cpuMs(postmaster) ?? 0) + reapedChildrenCpuMs(postmaster);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) total += cpuMs(Number(entry)) ?? 0;
    } catch { /* exited meanwhile */ }
  }
  return total;
}

/** CPU time (ms) all CPUs spent busy so far, from /proc/stat. */
function machineBusyMs(): number | undefined {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + f[4];
    return (f.reduce((a, b) => a + b, 0) - idle) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** Processes whose CPU time a window reports per request. */
export interface CpuWatch { server?: number; postgres?: number }

/** What one scenario measured, over the timed window only (warm-up excluded). */
export interface Measurement {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  /** A few of the errors (status codes or messages), to say what went wrong. */
  errorSamples: string[];
  /** Largest resident set size of the server process seen during the window, MB. */
  rssMb?: number;
  /** CPU time per request during the window (ms): the server process, and PostgreSQL. */
  serverCpuMs?: number;
  postgresCpuMs?: number;
  /** CPU used during the window by everything else on the machine (other users' work), in % of one CPU. */
  othersCpuPct?: number;
}

/** Latencies of one window, and the errors seen in it. */
export class Recorder {
  private readonly latencies: number[] = [];
  private errors = 0;
  private readonly samples = new Map<string, number>();
  private readonly started = process.hrtime.bigint();
  private maxRss: number | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  private readonly cpuStart: { server?: number; postgres?: number; machine?: number; self: number };

  constructor(rssPid?: number, private readonly cpu: CpuWatch = {}) {
    this.cpuStart = {
      server: cpu.server === undefined ? undefined : cpuMs(cpu.server),
      postgres: cpu.postgres === undefined ? undefined : postgresCpuMs(cpu.postgres),
      machine: machineBusyMs(),
      self: cpuMs(process.pid) ?? 0,
    };
    if (rssPid !== undefined) {
      const sample = () => { const mb = rssMb(rssPid); if (mb !== undefined) this.maxRss = Math.max(this.maxRss ?? 0, mb); };
      sample();
      this.timer = setInterval(sample, 250);
    }
  }

  ok(ms: number): void { this.latencies.push(ms); }

  error(ms: number | undefined, what: string): void {
    if (ms !== undefined) this.latencies.push(ms);
    this.errors++;
    this.samples.set(what, (this.samples.get(what) ?? 0) + 1);
  }

  finish(): Measurement {
    if (this.timer) clearInterval(this.timer);
    const seconds = Number(process.hrtime.bigint() - this.started) / 1e9;
    const perRequest = (start: number | undefined, end: number | undefined) =>
      (start === undefined || end === undefined || !this.latencies.length ? undefined : (end - start) / this.latencies.length);
    const serverEnd = this.cpu.server === undefined ? undefined : cpuMs(this.cpu.server);
    const pgEnd = this.cpu.postgres === undefined ? undefined : postgresCpuMs(this.cpu.postgres);
    const serverCpu = perRequest(this.cpuStart.server, serverEnd);
    const pgCpu = perRequest(this.cpuStart.postgres, pgEnd);
    // Everything busy on the machine minus the benchmark's own processes (this one, the server, PostgreSQL).
    const machineEnd = machineBusyMs();
    const ours = ((cpuMs(process.pid) ?? 0) - this.cpuStart.self) + (serverEnd !== undefined && this.cpuStart.server !== undefined ? serverEnd - this.cpuStart.server : 0)
      + (pgEnd !== undefined && this.cpuStart.postgres !== undefined ? pgEnd - this.cpuStart.postgres : 0);
    const others = machineEnd !== undefined && this.cpuStart.machine !== undefined ? Math.max(0, (machineEnd - this.cpuStart.machine - ours) / (seconds * 10)) : undefined;
    const sorted = Float64Array.from(this.latencies).sort();
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0);
    return {
      requests: sorted.length,
      seconds,
      rps: sorted.length / seconds,
      p50: pct(50),
      p95: pct(95),
      p99: pct(99),
      errors: this.errors,
      errorSamples: [...this.samples].slice(0, 5).map(([w, n]) => `${w} x${n}`),
      ...(this.maxRss !== undefined ? { rssMb: this.maxRss } : {}),
      ...(serverCpu !== undefined ? { serverCpuMs: serverCpu } : {}),
      ...(pgCpu !== undefined ? { postgresCpuMs: pgCpu } : {}),
      ...(others !== undefined ? { othersCpuPct: Math.round(others) } : {}),
    };
  }
}
