/**
 * Where the server's CPU time went, from the V8 profile `--cpu-prof DIR` writes: self time by
 * category (socket writes, PostgreSQL driver, knex, HTTP, our own code by folder, garbage
 * collection), idle time left out. Printed after a profiled run; also usable on its own:
 *
 *   npx tsx scripts/bench/profile.ts DIR_OR_FILE.cpuprofile
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; startTime: number; endTime: number }

export interface ProfileSummary {
  file: string;
  busyMs: number;
  categories: Array<{ name: string; pct: number }>;
  functions: Array<{ name: string; pct: number }>;
}

/** The category a frame's self time counts under. */
export function categoryOf(f: CallFrame): string {
  const url = f.url;
  if (!url) {
    if (f.functionName === 'writeBuffer' || f.functionName === 'writev' || f.functionName === 'writeString' || f.functionName === 'writeUtf8String') return 'socket and file writes (system calls)';
    if (f.functionName === '(garbage collector)') return 'garbage collection';
    return `V8/native: ${f.functionName || '(anonymous)'}`;
  }
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) {
    const m = mod[1];
    if (m === 'pg' || m === 'pg-protocol' || m === 'pg-types' || m === 'pg-pool') return 'PostgreSQL driver (pg)';
    if (m === 'knex' || m === 'tarn') return 'knex (transactions, query building)';
    if (m === 'express' || m === 'router' || m === 'body-parser' || m === 'helmet' || m === 'path-to-regexp' || m === 'parseurl' || m === 'finalhandler' || m === 'on-finished') return 'express and middleware';
    return `package ${m}`;
  }
  if (url.startsWith('node:internal/modules') || url.includes('/tsx/')) return 'module loading (start-up)';
  if (url.startsWith('node:_http') || url.startsWith('node:net') || url.startsWith('node:internal/stream') || url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'Node HTTP and streams';
  if (url.startsWith('node:')) return 'Node core (events, timers, async context)';
  const rel = url.replace(/^file:\/\//, '').replace(`${path.resolve(__dirname, '..', '..')}/`, '');
  const parts = rel.split('/');
  return `our code: ${parts.slice(0, Math.min(parts.length - 1, 2)).join('/') || rel}`;
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A system call is charged to whoever made it: the PostgreSQL driver, the HTTP response, or a log line.
  const writer = (id: number): string => {
    for (let x = parent.get(id); x !== undefined; x = parent.get(x)) {
      const u = (byId.get(x) as ProfileNode).callFrame.url;
      if (/node_modules\/pg(-protocol)?\//.test(u)) return 'to PostgreSQL';
      if (u.startsWith('node:_http')) return 'to HTTP clients';
      if (/node_modules\/(pino|sonic-boom)\//.test(u)) return 'log lines';
    }
    return 'other';
  };
  const counts = new Map<number, number>();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const msPerSample = (p.endTime - p.startTime) / 1000 / Math.max(1, p.samples.length);
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const [id, n] of counts) {
    const f = (byId.get(id) as ProfileNode).callFrame;
    if (f.functionName === '(idle)' || f.functionName === '(program)') continue;
    busy += n;
    const c = categoryOf(f).startsWith('socket') ? `socket and file writes (system calls) ${writer(id)}` : categoryOf(f);
    cats.set(c, (cats.get(c) ?? 0) + n);
    const where = f.url ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|db|scripts)\//, '$1/')}:${f.lineNumber + 1}` : 'native';
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    fns.set(key, (fns.get(key) ?? 0) + n);
  }
  const pct = (n: number) => Math.round((1000 * n) / Math.max(1, busy)) / 10;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, n]) => ({ name, pct: pct(n) }));
  return { file, busyMs: Math.round(busy * msPerSample), categories: sorted(cats), functions: sorted(fns) };
}

/** The main-thread profiles in `dir` (worker threads, e.g. the module loader's, have little to say). */
export function profilesIn(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  if (fs.statSync(dir).isFile()) return [dir];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f))
    .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f) || !/\.\d+\.\d+\.cpuprofile$/.test(f));
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`${s.file}: ${(s.busyMs / 1000).toFixed(1)} s of CPU on the main thread (idle left out)`, '  by category:'];
  for (const c of s.categories) lines.push(`    ${c.pct.toFixed(1).padStart(5)} %  ${c.name}`);
  lines.push('  by function (self time):');
  for (const f of s.functions) lines.push(`    ${f.pct.toFixed(1).padStart(5)} %  ${f.name}`);
  return lines.join('\n');
}

if (require.main === module) {
  const target = process.argv[2];
  if (!target) { process.stderr.write('usage: tsx scripts/bench/profile.ts DIR_OR_FILE\n'); process.exit(2); }
  for (const f of profilesIn(target)) process.stdout.write(`${formatSummary(summarizeProfile(f))}\n`);
}
