/**
 * The SQL the server sends for one request of each scenario, statement for statement (the test
 * test/bench/floor-sql.test.ts holds the two together), so the floor is PostgreSQL doing exactly the
 * server's database work with nothing else around it.
 */
import crypto from 'node:crypto';
import knexFactory from 'knex';
import { statementName } from '../../db/knex-client';
import type { AuditFacts } from '../../server/audit/record';
import { auditRecord } from '../../server/audit/record';
import { auditInsertSql, auditInsertWhenSql, withRequestFacts } from '../../server/audit/writer';
import { sqlLiteral } from '../../db/literal';
import { stampVersion, versionRow, type FhirResource } from '../../server/fhir/repository';
import { PatientDefinition } from '../../server/fhir/resources/patient';
import { beginSql, checkedBeginSql } from '../../server/tenancy/with-clinic';

/** The part of a pg client a plan uses (a recorder in the test). */
export interface SqlClient { query(q: string | { text: string; values: unknown[]; name?: string }): Promise<unknown> }

/** Who a request acts as. */
export interface FloorActor {
  clinicId: string; userId: string; role: string; tokenId: string;
  /** The role's stamp (migration 029) the server checks a cached role against; looked up once when missing. */
  stamp?: string;
}

export type FloorPlan = (client: SqlClient) => Promise<void>;

// Builds SQL only (no connection): the same builder, so the same text the server sends.
const sqlBuilder = knexFactory({ client: 'pg' });

const COLUMNS = (table: string, patient: string) =>
  `${table}.id, ${table}.version_id, ${table}.last_updated, ${table}.deleted, ${table}.resource::text as resource, ${table}.${patient}`;

function audit(actor: FloorActor, facts: Partial<AuditFacts> & Pick<AuditFacts, 'interaction' | 'action'>): string {
  return auditInsertSql({
    outcome: '0', clinicId: actor.clinicId, userId: actor.userId, roleName: actor.role, sourceIp: '127.0.0.1', requestId: crypto.randomUUID(), ...facts,
  });
}

/** A statement with parameters, prepared under the same name the server's pool gives it. */
function exec(c: SqlClient, text: string, values: unknown[]): Promise<unknown> {
  const name = statementName(text);
  return c.query({ text, values, ...(name ? { name } : {}) });
}

/** Patient ids of the rows a statement answered (a search's AuditEvent names each patient it showed). */
const patientsOf = (res: unknown): string[] =>
  [...new Set(((res as { rows?: Array<{ patient_id: string | null }> }).rows ?? []).slice(0, 20).map((r) => r.patient_id).filter((p): p is string => !!p))];

/** Transaction, token check and context in one round trip, the request's statements, then its audit row with the commit. */
async function request(c: SqlClient, actor: FloorActor, work: () => Promise<unknown>, auditOf: (patients: string[]) => string): Promise<void> {
  await c.query(beginSql(actor.clinicId, actor.userId, null, actor.tokenId));
  const res = await work();
  await c.query(`${auditOf(patientsOf(res))}; COMMIT;`);
}

/** The read in ONE round trip, as the server sends it once the caller's role is cached (fhir/one-trip-read.ts). */
export function readPatientFloor(actor: () => FloorActor, patientId: () => string): FloorPlan {
  return async (c) => {
    const who = actor();
    const id = patientId();
    if (!who.stamp) {
      const res = await c.query(`select (app_begin(${sqlLiteral(who.clinicId)}::uuid, ${sqlLiteral(who.userId)}::uuid, null::uuid, ${sqlLiteral(who.tokenId)})->>'stamp') as stamp`) as { rows: Array<{ stamp: string }> };
      who.stamp = res.rows[0].stamp;
    }
    const facts = withRequestFacts({ interaction: 'read', action: 'R', outcome: '0', clinicId: who.clinicId, userId: who.userId, roleName: who.role, sourceIp: '127.0.0.1', requestId: crypto.randomUUID(), resourceType: 'Patient', resourceId: id });
    const row = `(select %s from patient where id = '${id}')`;
    await c.query(`${checkedBeginSql(who.clinicId, who.userId, null, who.tokenId, who.stamp)}; select id, version_id, last_updated, deleted, resource::text as resource from patient where id = '${id}'; ${
      auditInsertWhenSql(auditRecord(facts), `exists (select 1 from patient where id = '${id}' and not deleted)`, { entity_version: row.replace('%s', 'version_id::text') })}; COMMIT`);
  };
}

export function searchFamilyFloor(actor: () => FloorActor, family: () => string): FloorPlan {
  return async (c) => {
    const who = actor();
    const f = family();
    await request(c, who,
      () => {
        const v = f.toLowerCase();
        return exec(c, `select ${COLUMNS('patient', 'id as patient_id')} from "patient" where "patient"."deleted" = $1 and patient.id in (select i.id from patient i where not i.deleted and i.id in (select id from patient_search where param = $2 and ((value >= $3 and value < $4 and starts_with(value, $5)))) order by i.last_updated desc, i.id asc limit $6) order by "last_updated" desc, "id" asc limit $7`,
          [false, 'family', v, `${v}\u{10FFFF}`, v, 21, 21]);
      },
      (patientIds) => audit(who, { interaction: 'search-type', action: 'E', resourceType: 'Patient', query: `family=${f}&_count=20`, patientIds }));
  };
}

export function appointmentSearchFloor(actor: () => FloorActor, patientId: () => string, range: { from: string; to: string }): FloorPlan {
  return async (c) => {
    const who = actor();
    const id = patientId();
    await request(c, who,
      () => exec(c, `select ${COLUMNS('appointment', 'patient_id')} from "appointment" where "appointment"."deleted" = $1 and appointment.id in (select id from appointment_search where param = $2 and value = any($3::text[])) and (sp_date_hi > $4) and (sp_date_lo < $5) order by "last_updated" desc, "id" asc limit $6`,
        [false, 'patient', [`Patient/${id}`], new Date(range.from), new Date(range.to), 21]),
      (patientIds) => audit(who, { interaction: 'search-type', action: 'E', resourceType: 'Appointment', query: `patient=${id}&date=ge${range.from}&date=lt${range.to}`, patientIds }));
  };
}

export function auditSearchFloor(actor: () => FloorActor, patientId: () => string, since: string): FloorPlan {
  return async (c) => {
    const who = actor();
    const id = patientId();
    const after = new Date(new Date(since).getTime() - 1); // date=ge<day>: last_updated > the instant before it
    await request(c, who,
      () => exec(c, 'select audit_event.* from "audit_event" where (audit_event.id, audit_event.last_updated) in (select id, last_updated from audit_event where patient_id = any($1::uuid[]) and (last_updated > $2) union all select id, last_updated from audit_event_patient where patient_id = any($3::uuid[]) and (last_updated > $4)) and (audit_event.last_updated > $5) order by "last_updated" desc, "id" asc limit $6',
        [[id], after, [id], after, after, 21]),
      (patientIds) => audit(who, { interaction: 'search-type', action: 'E', resourceType: 'AuditEvent', query: `patient=Patient/${id}&date=ge${since}`, patientIds }));
  };
}

export function createPatientFloor(actor: () => FloorActor, body: () => FhirResource): FloorPlan {
  return async (c) => {
    const who = actor();
    const id = crypto.randomUUID();
    await request(c, who, () => {
      const { row } = versionRow(PatientDefinition, stampVersion(body(), id, 1, new Date().toISOString()), false);
      const { sql, bindings } = sqlBuilder('patient').insert({ ...row, clinic_id: sqlBuilder.raw('app_clinic_id()') }).toSQL().toNative();
      return exec(c, sql, [...bindings]);
    }, () => audit(who, { interaction: 'create', action: 'C', resourceType: 'Patient', resourceId: id, versionId: '1', patientIds: [id] }));
  };
}
