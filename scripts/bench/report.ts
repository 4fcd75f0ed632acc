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
  const head = ['scenario', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'RSS MB', 'floor req/s', 'server/floor', 'CPU ms/req server+pg', 'floor pg CPU ms/req', 'others CPU %'];
  const rows = results.map((r) => [
    r.title, fmt(r.server.rps), fmt(r.server.p50, 1), fmt(r.server.p95, 1), fmt(r.server.p99, 1), String(r.server.errors),
    fmt(r.server.rssMb), fmt(r.floor?.rps), r.ratio === undefined ? '-' : `${Math.round(r.ratio * 100)} %`,
    r.server.serverCpuMs === undefined ? '-' : `${fmt(r.server.serverCpuMs, 2)} + ${fmt(r.server.postgresCpuMs, 2)}`, fmt(r.floor?.postgresCpuMs, 2),
    fmt(r.server.othersCpuPct),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The issue's targets, as far as this run can say (they are stated for 100 000 patients). */
export function targets(results: readonly ScenarioResult[]): string[] {
  const by = (k: string) => results.find((r) => r.key === k);
  const out: string[] = [];
  const check = (label: string, ok: boolean | undefined) => { if (ok !== undefined) out.push(`${ok ? 'holds' : 'MISSED'}  ${label}`); };
  const read = by('read');
  check('read by id >= 1000 req/s, p99 <= 50 ms', read && read.server.rps >= 1000 && read.server.p99 <= 50);
  check('search by family >= 600 req/s', by('search') && (by('search') as ScenarioResult).server.rps >= 600);
  check('create >= 500 req/s', by('create') && (by('create') as ScenarioResult).server.rps >= 500);
  check('AuditEvent search p95 <= 100 ms', by('audit') && (by('audit') as ScenarioResult).server.p95 <= 100);
  check('zero errors', results.every((r) => r.server.errors === 0));
  const rss = Math.max(...results.map((r) => r.server.rssMb ?? 0));
  if (rss > 0) check(`server RSS <= 400 MB (max ${rss.toFixed(0)})`, rss <= 400);
  for (const r of results) if (r.ratio !== undefined) check(`${r.title} >= 50 % of its floor`, r.ratio >= 0.5);
  return out;
}

/**
 * The scaling check: each scenario's throughput against the same scenario of an earlier run on a
 * smaller dataset (`--compare FILE`); the target is a loss of no more than 30 %.
 */
export function scaling(results: readonly ScenarioResult[], baseline: { dataset?: { patients: number }; results: ScenarioResult[] }, patients?: number): string[] {
  const out: string[] = [];
  for (const r of results) {
    const before = baseline.results.find((b) => b.key === r.key);
    if (!before) continue;
    const kept = r.server.rps / before.server.rps;
    const label = `${r.title}: ${r.server.rps.toFixed(0)} req/s at ${patients ?? '?'} patients vs ${before.server.rps.toFixed(0)} at ${baseline.dataset?.patients ?? '?'} (${Math.round((kept - 1) * 100)} %) loses <= 30 %`;
    out.push(`${kept >= 0.7 ? 'holds' : 'MISSED'}  ${label}`);
  }
  return out;
}

export function writeJson(file: string, report: object): string {
  const full = path.resolve(file);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, `${JSON.stringify(report, null, 2)}\n`);
  return full;
}
