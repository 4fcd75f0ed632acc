/**
 * `npm run soak [-- --minutes N --connections C]`: starts the server (as `npm start` does, in a
 * throwaway DATA_DIR), drives a steady mixed load (create, read, search, update of Patients and
 * Appointments) for 30 minutes by default, and prints, per minute, the server's RSS and the p50/p99
 * latency, then a summary line. A leak shows as RSS that keeps climbing; a slow-down as a rising p99.
 * The API rate limits are off for the run (one user would reach them); any failed request fails it.
 */
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { adminConnection } from '../db';
import { createClinic, createUser } from '../server/admin/tenancy';
import { mintAccessToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { useSecretKeys } from '../server/oauth/secret-box';
import { loadSigningKeyAsAdmin } from '../server/oauth/signing-keys';
import { rssMb, startServerProcess } from './bench/server-process';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    connections: { type: 'string', default: '8' },
    'interval-seconds': { type: 'string', default: '60' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

const USAGE = 'usage: npm run soak -- [--minutes 30] [--connections 8] [--interval-seconds 60]';
const FHIR_JSON = 'application/fhir+json';

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) { process.stderr.write(`--${name} must be a positive number\n${USAGE}\n`); process.exit(2); }
  return n;
}

const percentile = (sorted: number[], p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);

interface Interval { latencies: number[]; errors: number }

async function main(): Promise<void> {
  if (flags.help) { process.stdout.write(`${USAGE}\n`); return; }
  const minutes = positive('minutes', flags.minutes);
  const connections = Math.round(positive('connections', flags.connections));
  const intervalMs = positive('interval-seconds', flags['interval-seconds']) * 1000;
  const server = await startServerProcess({ env: { LOG_LEVEL: 'warn', RATE_LIMIT_PER_USER: '0', RATE_LIMIT_PER_ADDRESS: '0' } });
  try {
    const cfg = loadConfig({ DATA_DIR: server.dataDir, EMBEDDED_PG_PORT: String(server.pgPort), LOG_LEVEL: 'silent' });
    const conn = await adminConnection(cfg);
    const admin = knexFactory({ client: 'pg', connection: conn.url, pool: { min: 0, max: 1 } });
    let token: string;
    try {
      const clinic = await createClinic(admin, 'Soak Clinic');
      const user = await createUser(admin, { clinicId: clinic.id, email: 'soak@soak.example', role: 'doctor' });
      // The signing key is sealed at rest: read it with the server's sealing key (its DATA_DIR, or SECRETS_KEY).
      useSecretKeys(loadConfig({ ...process.env, DATA_DIR: server.dataDir }));
      const key = await loadSigningKeyAsAdmin(admin, server.dataDir);
      token = await mintAccessToken(key, { issuer: server.url, audience: `${server.url}/fhir`, clinicClaim: 'clinic' },
        { clinicId: clinic.id, userId: user.id, scope: 'user/*.cruds', ttlSeconds: Math.ceil(minutes * 60 + 600) });
    } finally {
      await admin.destroy();
      await conn.stop();
    }
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': FHIR_JSON, Accept: FHIR_JSON };
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const res = await fetch(`${server.url}/fhir${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const json = (await res.json()) as Record<string, unknown>;
      // The first few failures, as the server explained them (ids only: the data is synthetic anyway).
      if (res.status >= 400 && shown++ < 5) process.stderr.write(`${method} ${path.split('?')[0]} -> ${res.status} ${JSON.stringify(json).slice(0, 300)}\n`);
      return { status: res.status, json };
    };

    let shown = 0;
    const patients: string[] = [];
    const families = ['Ashdown', 'Brook', 'Carver', 'Dale', 'Ellery', 'Fenn'];
    let n = 0;
    /** One step of the mix: 10 % Patient creates, 10 % Appointment creates, 5 % updates, 40 % reads, 35 % searches. */
    const step = async (): Promise<boolean> => {
      const r = Math.random();
      n++;
      if (patients.length < 20 || r < 0.1) {
        const res = await call('POST', '/Patient', { resourceType: 'Patient', name: [{ family: families[n % families.length], given: [`S${n}`] }], gender: 'female', birthDate: '1980-04-12' });
        if (res.status === 201) patients.push(String(res.json.id));
        if (patients.length > 5000) patients.splice(0, 1000);
        return res.status === 201;
      }
      const id = patients[Math.floor(Math.random() * patients.length)];
      if (r < 0.2) {
        const start = new Date(Date.now() + (n % 1000) * 3_600_000);
        const res = await call('POST', '/Appointment', {
          resourceType: 'Appointment', status: 'booked', start: start.toISOString(), end: new Date(start.getTime() + 1_800_000).toISOString(),
          participant: [{ actor: { reference: `Patient/${id}` }, status: 'accepted' }],
        });
        return res.status === 201;
      }
      if (r < 0.25) {
        const current = await call('GET', `/Patient/${id}`);
        if (current.status !== 200) return false;
        return (await call('PUT', `/Patient/${id}`, { ...current.json, active: n % 2 === 0 })).status === 200;
      }
      if (r < 0.65) return (await call('GET', `/Patient/${id}`)).status === 200;
      if (r < 0.75) return (await call('GET', `/Appointment?patient=Patient/${id}&_count=20`)).status === 200;
      return (await call('GET', `/Patient?family=${families[n % families.length].slice(0, 3)}&_count=20`)).status === 200;
    };

    const started = Date.now();
    const end = started + minutes * 60_000;
    let current: Interval = { latencies: [], errors: 0 };
    const all: number[] = [];
    let errors = 0;
    const rows: Array<{ minute: number; rss: number; p99: number }> = [];
    process.stdout.write(`soak: ${minutes} min, ${connections} connections against ${server.url} (server pid ${server.pid})\n`);
    process.stdout.write('  minute  requests  errors  p50 ms  p99 ms  server RSS MB\n');
    const report = () => {
      const done = current;
      current = { latencies: [], errors: 0 };
      const sorted = done.latencies.sort((a, b) => a - b);
      const rss = rssMb(server.pid) ?? NaN;
      const minute = Math.round((Date.now() - started) / 60_000 * 10) / 10;
      rows.push({ minute, rss, p99: percentile(sorted, 0.99) });
      process.stdout.write(`  ${minute.toFixed(1).padStart(6)}  ${String(sorted.length).padStart(8)}  ${String(done.errors).padStart(6)}  ${percentile(sorted, 0.5).toFixed(1).padStart(6)}  ${percentile(sorted, 0.99).toFixed(1).padStart(6)}  ${rss.toFixed(0).padStart(13)}\n`);
    };
    const timer = setInterval(report, intervalMs);
    const worker = async () => {
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        let ok = false;
        try { ok = await step(); } catch { ok = false; }
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        current.latencies.push(ms);
        all.push(ms);
        if (!ok) { current.errors++; errors++; }
      }
    };
    await Promise.all(Array.from({ length: connections }, worker));
    clearInterval(timer);
    // The requests still in flight at the end are in the summary; a row of its own only when there was none.
    if (rows.length === 0) report();
    const sorted = all.sort((a, b) => a - b);
    const first = rows[0]?.rss ?? NaN;
    const last = rows[rows.length - 1]?.rss ?? NaN;
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`soak summary: ${sorted.length} requests in ${seconds.toFixed(0)} s (${(sorted.length / seconds).toFixed(0)}/s), ${errors} errors, `
      + `p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms (worst minute ${Math.max(...rows.map((r) => r.p99)).toFixed(1)} ms), `
      + `server RSS ${first.toFixed(0)} -> ${last.toFixed(0)} MB (peak ${Math.max(...rows.map((r) => r.rss)).toFixed(0)} MB)\n`);
    if (errors > 0) process.exitCode = 1;
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
