/**
 * Synthetic dataset for demos and the benchmark: clinics with a doctor and a compliance officer,
 * patients, appointments, medication requests and a history of AuditEvents. Rows are built by the
 * server's own code (stampVersion/versionRow, auditRecord) and bulk-inserted through
 * the migration account, so they are exactly what the API would have written, only faster.
 *
 *   npm run seed -- [--clinics 2] [--patients 1000] [--appointments 2000] [--medication-requests 2000] [--audit-events 10000]
 */
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { adminConnection, migrate } from '../db';
import { createClinic, createUser } from '../server/admin/tenancy';
import { auditRowHash } from '../server/audit/canonical';
import { type AuditFacts, auditRecord } from '../server/audit/record';
import { loadConfig } from '../server/config';
import { type FhirResource, stampVersion, versionRow } from '../server/fhir/repository';
import { AppointmentDefinition } from '../server/fhir/resources/appointment';
import { MedicationRequestDefinition } from '../server/fhir/resources/medication-request';
import { PatientDefinition } from '../server/fhir/resources/patient';
import type { ResourceDefinition } from '../server/fhir/resources/types';
import { BatchLoader, type Row } from './lib/load';
import { Progress } from './lib/progress';
import { appointmentBody, medicationRequestBody, patientBody, rng } from './lib/synthetic';

export interface DatasetSize {
  clinics: number;
  patients: number;
  appointments: number;
  medicationRequests: number;
  auditEvents: number;
  seed: number;
}

export interface GeneratedClinic {
  id: string;
  name: string;
  doctorId: string;
  complianceOfficerId: string;
  patientIds: string[];
}

const BATCH = 1000;
const DAY = 86_400_000;
/** Audit history spans the last 28 days: always inside the monthly partitions the migration keeps. */
const AUDIT_WINDOW_DAYS = 28;

/** Splits `total` over `parts` as evenly as possible. */
const share = (total: number, parts: number, i: number) => Math.floor(total / parts) + (i < total % parts ? 1 : 0);

async function loadVersions(
  loader: BatchLoader, def: ResourceDefinition, clinicId: string, count: number, progress: Progress,
  body: (n: number) => { resource: FhirResource; lastUpdated: string },
): Promise<string[]> {
  const ids: string[] = [];
  let rows: Row[] = [];
  for (let n = 0; n < count; n++) {
    const { resource, lastUpdated } = body(n);
    const id = crypto.randomUUID();
    const { row } = versionRow(def, stampVersion(resource, id, 1, lastUpdated), false);
    rows.push({ ...(row as Row), clinic_id: clinicId });
    ids.push(id);
    if (rows.length === BATCH) { await loader.insert(def.table, rows); progress.add(rows.length); rows = []; }
  }
  await loader.insert(def.table, rows);
  progress.add(rows.length);
  return ids;
}

/** An access the audit trail of a clinic would hold: mostly reads, some searches and updates. */
function auditFacts(r: () => number, clinic: GeneratedClinic, patientId: string): AuditFacts {
  const base = { outcome: '0' as const, clinicId: clinic.id, userId: clinic.doctorId, roleName: 'doctor', sourceIp: '10.0.0.12', resourceType: 'Patient', patientIds: [patientId] };
  const x = r();
  if (x < 0.8) return { ...base, interaction: 'read', action: 'R', resourceId: patientId, versionId: '1' };
  if (x < 0.95) return { ...base, interaction: 'search-type', action: 'E', query: `_id=${patientId}` };
  return { ...base, interaction: 'update', action: 'U', resourceId: patientId, versionId: '2' };
}

async function loadAudit(loader: BatchLoader, clinic: GeneratedClinic, count: number, r: () => number, now: number, progress: Progress): Promise<void> {
  let rows: Row[] = [];
  for (let n = 0; n < count; n++) {
    const patientId = clinic.patientIds[Math.floor(r() * clinic.patientIds.length)];
    const facts = auditFacts(r, clinic, patientId);
    const record = auditRecord(facts, new Date(now - Math.floor(r() * AUDIT_WINDOW_DAYS * DAY)));
    // With its hash, as the server writes it (bytea input form, through json_populate_recordset).
    rows.push({ ...record, hash: `\\x${auditRowHash(record).toString('hex')}` } as unknown as Row);
    if (rows.length === BATCH) { await loader.insert('audit_event', rows); progress.add(rows.length); rows = []; }
  }
  await loader.insert('audit_event', rows);
  progress.add(rows.length);
}

/** Creates the clinics and users, then loads every resource; returns who and what was created. */
export async function generateDataset(adminUrl: string, size: DatasetSize): Promise<GeneratedClinic[]> {
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 2 } });
  const loader = await BatchLoader.open(adminUrl);
  const r = rng(size.seed);
  const now = Date.now();
  const tag = crypto.randomBytes(3).toString('hex');
  try {
    const clinics: GeneratedClinic[] = [];
    for (let i = 0; i < size.clinics; i++) {
      const name = `Synthetic Clinic ${i + 1} ${tag}`;
      const { id } = await createClinic(admin, name);
      const doctor = await createUser(admin, { clinicId: id, email: `doctor.${i + 1}.${tag}@bench.example`, role: 'doctor' });
      const officer = await createUser(admin, { clinicId: id, email: `compliance.${i + 1}.${tag}@bench.example`, role: 'compliance-officer' });
      clinics.push({ id, name, doctorId: doctor.id, complianceOfficerId: officer.id, patientIds: [] });
    }
    const steps: Array<[string, number, (c: GeneratedClinic, count: number, p: Progress) => Promise<unknown>]> = [
      ['patients', size.patients, async (c, count, p) => {
        let serial = 0;
        c.patientIds = await loadVersions(loader, PatientDefinition, c.id, count, p, () => ({
          resource: patientBody(r, ++serial + clinics.indexOf(c) * 100_000_000), lastUpdated: new Date(now - Math.floor(r() * 730 * DAY)).toISOString(),
        }));
      }],
      ['appointments', size.appointments, (c, count, p) => loadVersions(loader, AppointmentDefinition, c.id, count, p, () => ({
        resource: appointmentBody(r, c.patientIds[Math.floor(r() * c.patientIds.length)], now), lastUpdated: new Date(now - Math.floor(r() * 365 * DAY)).toISOString(),
      }))],
      ['medication requests', size.medicationRequests, (c, count, p) => loadVersions(loader, MedicationRequestDefinition, c.id, count, p, () => ({
        resource: medicationRequestBody(r, c.patientIds[Math.floor(r() * c.patientIds.length)], now), lastUpdated: new Date(now - Math.floor(r() * 730 * DAY)).toISOString(),
      }))],
      ['audit events', size.auditEvents, (c, count, p) => loadAudit(loader, c, count, r, now, p)],
    ];
    for (const [label, total, step] of steps) {
      const progress = new Progress(label, total);
      for (const [i, c] of clinics.entries()) {
        const count = share(total, clinics.length, i);
        if (count > 0 && c.patientIds.length === 0 && label !== 'patients') throw new Error(`${label} need patients in every clinic`);
        await step(c, count, progress);
      }
      await loader.flush();
      progress.finish();
    }
    const started = Date.now();
    await loader.analyze(['patient', 'patient_history', 'appointment', 'appointment_history', 'medication_request', 'medication_request_history', 'audit_event']);
    process.stderr.write(`vacuum analyze       ${((Date.now() - started) / 1000).toFixed(0)}s\n`);
    return clinics;
  } finally {
    await loader.close();
    await admin.destroy();
  }
}

export const SIZE_FLAGS = {
  clinics: { type: 'string' },
  patients: { type: 'string' },
  appointments: { type: 'string' },
  'medication-requests': { type: 'string' },
  'audit-events': { type: 'string' },
  seed: { type: 'string' },
} as const;

/** Sizes from flags (`--patients 2000`), with defaults; a bad value stops with a message naming the flag. */
export function sizeFromFlags(values: Partial<Record<keyof typeof SIZE_FLAGS, string | undefined>>, defaults: DatasetSize): DatasetSize {
  const num = (flag: keyof typeof SIZE_FLAGS, def: number, min: number) => {
    const raw = values[flag];
    if (raw === undefined) return def;
    const n = Number(raw.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} ${raw} is invalid: expected an integer >= ${min}`);
    return n;
  };
  return {
    clinics: num('clinics', defaults.clinics, 1),
    patients: num('patients', defaults.patients, 1),
    appointments: num('appointments', defaults.appointments, 0),
    medicationRequests: num('medication-requests', defaults.medicationRequests, 0),
    auditEvents: num('audit-events', defaults.auditEvents, 0),
    seed: num('seed', defaults.seed, 0),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: SIZE_FLAGS, strict: true });
  const size = sizeFromFlags(values, { clinics: 2, patients: 1000, appointments: 2000, medicationRequests: 2000, auditEvents: 10_000, seed: 1 });
  const cfg = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const conn = await adminConnection(cfg);
  try {
    await migrate(conn.url);
    const started = Date.now();
    const clinics = await generateDataset(conn.url, size);
    process.stdout.write(`${JSON.stringify(clinics.map(({ patientIds, ...c }) => ({ ...c, patients: patientIds.length })), null, 2)}\n`);
    process.stderr.write(`seeded ${size.clinics} clinics, ${size.patients} patients, ${size.appointments} appointments, ${size.medicationRequests} medication requests, ${size.auditEvents} audit events in ${((Date.now() - started) / 1000).toFixed(1)} s (tokens: npm run admin -- token --clinic ID --user ID --scope "user/*.cruds")\n`);
  } finally {
    await conn.stop();
  }
}

if (require.main === module) {
  main().catch((err) => { process.stderr.write(`seed failed: ${err instanceof Error ? err.message : String(err)}\n`); process.exit(1); });
}
