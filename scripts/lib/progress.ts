/** A one-line progress bar on stderr (a line per 10 % when stderr is not a terminal). */
export class Progress {
  private done = 0;
  private lastDecile = -1;
  private readonly started = Date.now();
  private lastDraw = 0;

  constructor(private readonly label: string, private readonly total: number) {}

  add(n: number): void {
    this.done += n;
    const now = Date.now();
    if (process.stderr.isTTY) {
      if (now - this.lastDraw < 100 && this.done < this.total) return;
      this.lastDraw = now;
      process.stderr.write(`\r${this.line()}\x1b[K`);
    } else {
      const decile = Math.floor((10 * this.done) / Math.max(1, this.total));
      if (decile !== this.lastDecile) { this.lastDecile = decile; process.stderr.write(`${this.line()}\n`); }
    }
  }

  finish(): void {
    if (process.stderr.isTTY) process.stderr.write(`\r${this.line()}\x1b[K\n`);
    else if (this.lastDecile < 10) process.stderr.write(`${this.line()}\n`);
  }

  private line(): string {
    const frac = this.total ? Math.min(1, this.done / this.total) : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? Math.round(this.done / secs) : 0;
    return `${this.label.padEnd(20)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}% ${this.done}/${this.total} ${rate}/s ${secs.toFixed(0)}s`;
  }
}
