// Dev helper (not committed): a server + dataset that stays up until killed.
import fs from 'node:fs';
import { adminConnection, runtimeUrl } from '../db';
import { loadConfig } from '../server/config';
import { persistentSecret } from '../server/secrets';
import { startServerProcess } from './bench/server-process';
import { generateDataset } from './generate';
async function main() {
  const s = await startServerProcess({ env: { LOG_LEVEL: process.env.SLOG ?? 'info' } });
  const cfg = loadConfig({ DATA_DIR: s.dataDir, EMBEDDED_PG_PORT: String(s.pgPort), LOG_LEVEL: 'silent' });
  const conn = await adminConnection(cfg);
  const n = Number(process.env.N ?? 2000);
  const clinics = await generateDataset(conn.url, { clinics: 2, patients: n, appointments: 2 * n, medicationRequests: 2 * n, auditEvents: Number(process.env.A ?? 10 * n), seed: 1 });
  const info = { url: s.url, pid: s.pid, pgPid: s.pgPid, dataDir: s.dataDir, admin: conn.url, runtime: runtimeUrl(conn.url, 'fhir_runtime', persistentSecret(s.dataDir, 'db-runtime-password')), clinics: clinics.map((c) => ({ ...c, patientIds: c.patientIds.slice(0, 5000) })) };
  fs.writeFileSync('/tmp/devdb.json', JSON.stringify(info, null, 2));
  console.log('ready');
  process.on('SIGTERM', () => { void s.stop().then(() => process.exit(0)); });
  setInterval(() => undefined, 1 << 30);
}
void main();
