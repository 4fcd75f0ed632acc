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

/** The postmaster and its children (backends, WAL writer...): PostgreSQL's CPU, wherever it runs. */
function postgresCpuMs(postmaster: number): number {
  let total = cpuMs(postmaster) ?? 0;
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
}

/** Latencies of one window, and the errors seen in it. */
export class Recorder {
  private readonly latencies: number[] = [];
  private errors = 0;
  private readonly samples = new Map<string, number>();
  private readonly started = process.hrtime.bigint();
  private maxRss: number | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  private readonly cpuStart: { server?: number; postgres?: number };

  constructor(rssPid?: number, private readonly cpu: CpuWatch = {}) {
    this.cpuStart = {
      server: cpu.server === undefined ? undefined : cpuMs(cpu.server),
      postgres: cpu.postgres === undefined ? undefined : postgresCpuMs(cpu.postgres),
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
    const serverCpu = perRequest(this.cpuStart.server, this.cpu.server === undefined ? undefined : cpuMs(this.cpu.server));
    const pgCpu = perRequest(this.cpuStart.postgres, this.cpu.postgres === undefined ? undefined : postgresCpuMs(this.cpu.postgres));
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
    };
  }
}
