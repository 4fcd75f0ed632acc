// Dev helper (not committed): client-side CPU of one read transaction, knex vs raw pg.
import fs from 'node:fs';
import crypto from 'node:crypto';
import knexFactory from 'knex';
import pg from 'pg';
import { TunedPgClient, statementName } from '../db/knex-client';
import { withClinic, beginSql } from '../server/tenancy/with-clinic';
import { auditInsertSql } from '../server/audit/writer';
import { Repository } from '../server/fhir/repository';
import { PatientDefinition } from '../server/fhir/resources/patient';
const info = JSON.parse(fs.readFileSync('/tmp/devdb.json', 'utf8'));
const c = info.clinics[0];
const ids: string[] = c.patientIds;
const facts = (id: string) => ({ interaction: 'read', action: 'R' as const, outcome: '0' as const, clinicId: c.id, userId: c.doctorId, roleName: 'doctor', resourceType: 'Patient', resourceId: id, versionId: '1', patientIds: [id] });
async function time(label: string, n: number, f: (i: number) => Promise<void>) {
  for (let i = 0; i < 200; i++) await f(i);
  const u0 = process.cpuUsage(); const t0 = Date.now();
  for (let i = 0; i < n; i++) await f(i);
  const u = process.cpuUsage(u0);
  console.log(label.padEnd(28), ((u.user + u.system) / 1000 / n).toFixed(3), 'ms CPU/op', ((Date.now() - t0) / n).toFixed(3), 'ms wall/op');
}
async function main() {
  const k = knexFactory({ client: TunedPgClient, connection: info.runtime, pool: { min: 1, max: 1 } });
  const raw = new pg.Client({ connectionString: info.runtime }); await raw.connect();
  const N = Number(process.env.N ?? 2000);
  if (process.env.ONLY === 'knex') { await time('knex withClinic+repo', N, async (i) => { const id = ids[i % ids.length]; await withClinic(k, { clinicId: c.id, userId: c.doctorId, tokenId: crypto.randomUUID(), revocable: true }, async ({ trx, atCommit }) => { await new Repository(PatientDefinition, trx).read(id); atCommit(auditInsertSql(facts(id))); }); }); await k.destroy(); await raw.end(); return; }
  await time('audit sql build', N, async (i) => { auditInsertSql(facts(ids[i % ids.length])); });
  await time('raw pg 3 RTs', N, async (i) => {
    const id = ids[i % ids.length];
    await raw.query(beginSql(c.id, c.doctorId, null, crypto.randomUUID()));
    const sql = 'select patient.id, patient.version_id, patient.last_updated, patient.deleted, patient.resource::text as resource, patient.id as patient_id from "patient" where "id" = $1 limit $2';
    await raw.query({ name: statementName(sql), text: sql, values: [id, 1] });
    await raw.query(`${auditInsertSql(facts(id))}; COMMIT;`);
  });
  await time('knex withClinic+repo', N, async (i) => {
    const id = ids[i % ids.length];
    await withClinic(k, { clinicId: c.id, userId: c.doctorId, tokenId: crypto.randomUUID(), revocable: true }, async ({ trx, atCommit }) => {
      await new Repository(PatientDefinition, trx).read(id);
      atCommit(auditInsertSql(facts(id)));
    });
  });
  await time('knex withClinic+repo(sql)', N, async (i) => {
    const id = ids[i % ids.length];
    await withClinic(k, { clinicId: c.id, userId: c.doctorId, tokenId: crypto.randomUUID(), revocable: true }, async ({ trx, atCommit, sql }) => {
      await new Repository(PatientDefinition, trx, { sql }).read(id);
      atCommit(auditInsertSql(facts(id)));
    });
  });
  await time('knex withClinic empty', N, async () => {
    await withClinic(k, { clinicId: c.id, userId: c.doctorId, tokenId: crypto.randomUUID(), revocable: true }, async () => undefined);
  });
  await time('raw begin+commit', N, async () => {
    await raw.query(beginSql(c.id, c.doctorId, null, crypto.randomUUID())); await raw.query('COMMIT');
  });
  await time('knex builder compile only', N, async (i) => {
    k('patient').select(k.raw('patient.id, patient.version_id')).where({ id: ids[i % ids.length] }).first().toSQL();
  });
  await k.destroy(); await raw.end();
}
void main();
