import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Measurement } from './measure';

export interface ScenarioResult {
  key: string;
  title: string;
  server: Measurement;
  floor?: Measurement;
  /** server requests/s over floor requests/s. */
  ratio?: number;
  /** The naive floor (naive-floor.ts) driven with the same HTTP requests. */
  naive?: Measurement;
  /** server requests/s over naive floor requests/s, and server p99 over naive floor p99. */
  naiveRatio?: number;
  naiveP99Ratio?: number;
}

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  /** 1/5/15-minute load averages when the run started and when it ended. */
  loadBefore: number[];
  loadAfter?: number[];
}

export function machine(): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
  } catch { /* not Linux: os.cpus() it is */ }
  return {
    nproc: os.availableParallelism(), cpuModel, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version,
    loadBefore: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toFixed(digits));

export function table(results: readonly ScenarioResult[]): string {
  const head = ['scenario', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'RSS MB', 'floor req/s', 'server/floor',
    'naive req/s', 'naive p99 ms', 'server/naive', 'p99 server/naive', 'CPU ms/req server+pg', 'floor pg CPU ms/req', 'others CPU %'];
  const rows = results.map((r) => [
    r.title, fmt(r.server.rps), fmt(r.server.p50, 1), fmt(r.server.p95, 1), fmt(r.server.p99, 1), String(r.server.errors),
    fmt(r.server.rssMb), fmt(r.floor?.rps), r.ratio === undefined ? '-' : `${Math.round(r.ratio * 100)} %`,
    fmt(r.naive?.rps), fmt(r.naive?.p99, 1), fmt(r.naiveRatio, 2), fmt(r.naiveP99Ratio, 2),
    r.server.serverCpuMs === undefined ? '-' : `${fmt(r.server.serverCpuMs, 2)} + ${fmt(r.server.postgresCpuMs, 2)}`, fmt(r.floor?.postgresCpuMs, 2),
    fmt(r.server.othersCpuPct),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Each scenario's share of the naive floor it must reach (issue 10): read the whole of it, the others 80 %. */
const NAIVE_SHARE: Record<string, number> = { read: 1.0, search: 0.8, appointments: 0.8, create: 0.8 };
const RSS_MAX_MB = 400;
const AUDIT_P95_MS = 50;
/** Issue 15: any console screen's first page in p95 <= 300 ms. */
const CONSOLE_P95_MS = 300;
const READ_P99_OVER_NAIVE = 1.5;

/** The targets, scenario by scenario: `holds`, `MISSED`, or `n/a` when this run did not measure what one needs. */
export function targets(results: readonly ScenarioResult[]): string[] {
  const out: string[] = [];
  const check = (r: ScenarioResult, label: string, ok: boolean | undefined, value: string) =>
    out.push(`${ok === undefined ? 'n/a' : ok ? 'holds' : 'MISSED'}  ${r.title}: ${label} (${value})`);
  for (const r of results) {
    const share = NAIVE_SHARE[r.key];
    if (share !== undefined) {
      check(r, `req/s >= ${share.toFixed(1)}x the naive floor's`, r.naiveRatio === undefined ? undefined : r.naiveRatio >= share,
        r.naiveRatio === undefined ? 'no naive floor measured' : `${r.naiveRatio.toFixed(2)}x`);
    }
    if (r.key === 'read') {
      check(r, `p99 <= ${READ_P99_OVER_NAIVE}x the naive floor's`, r.naiveP99Ratio === undefined ? undefined : r.naiveP99Ratio <= READ_P99_OVER_NAIVE,
        r.naiveP99Ratio === undefined ? 'no naive floor measured' : `${r.naiveP99Ratio.toFixed(2)}x`);
    }
    if (r.key === 'audit') check(r, `p95 <= ${AUDIT_P95_MS} ms`, r.server.p95 <= AUDIT_P95_MS, `${r.server.p95.toFixed(1)} ms`);
    if (r.key === 'console') check(r, `p95 <= ${CONSOLE_P95_MS} ms`, r.server.p95 <= CONSOLE_P95_MS, `${r.server.p95.toFixed(1)} ms`);
    check(r, `server RSS <= ${RSS_MAX_MB} MB`, r.server.rssMb === undefined ? undefined : r.server.rssMb <= RSS_MAX_MB,
      r.server.rssMb === undefined ? 'not measured' : `${r.server.rssMb.toFixed(0)} MB`);
    check(r, 'zero errors', r.server.errors === 0, String(r.server.errors));
  }
  return out;
}

/**
 * The scaling check: each scenario's throughput against the same scenario of an earlier run on a
 * smaller dataset (`--compare FILE`); the target is a loss of no more than 20 %.
 */
export function scaling(results: readonly ScenarioResult[], baseline: { dataset?: { patients: number }; results: ScenarioResult[] }, patients?: number): string[] {
  const out: string[] = [];
  for (const r of results) {
    const before = baseline.results.find((b) => b.key === r.key);
    if (!before) continue;
    const kept = r.server.rps / before.server.rps;
    const naive = r.naiveRatio === undefined ? '' : `; server/naive ${r.naiveRatio.toFixed(2)} vs ${before.naiveRatio === undefined ? '-' : before.naiveRatio.toFixed(2)}`;
    const label = `${r.title}: ${r.server.rps.toFixed(0)} req/s at ${patients ?? '?'} patients vs ${before.server.rps.toFixed(0)} at ${baseline.dataset?.patients ?? '?'} (${Math.round((kept - 1) * 100)} %) loses <= 20 %${naive}`;
    out.push(`${kept >= 0.8 ? 'holds' : 'MISSED'}  ${label}`);
  }
  return out;
}

export function writeJson(file: string, report: object): string {
  const full = path.resolve(file);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, `${JSON.stringify(report, null, 2)}\n`);
  return full;
}
