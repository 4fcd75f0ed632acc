import { rssMb } from './server-process';

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
}

/** Latencies of one window, and the errors seen in it. */
export class Recorder {
  private readonly latencies: number[] = [];
  private errors = 0;
  private readonly samples = new Map<string, number>();
  private readonly started = process.hrtime.bigint();
  private maxRss: number | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(rssPid?: number) {
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
    };
  }
}
