/**
 * The SQL the server sends for one request of each scenario, statement for statement (the test
 * test/bench/floor-sql.test.ts holds the two together), so the floor is PostgreSQL doing exactly the
 * server's database work with nothing else around it.
 */
import crypto from 'node:crypto';
import knexFactory from 'knex';
import { buildAuditEvent, type AuditFacts } from '../../server/audit/balp';
import { auditRow } from '../../server/audit/writer';
import { stampVersion, versionRow, type FhirResource } from '../../server/fhir/repository';
import { PatientDefinition } from '../../server/fhir/resources/patient';

/** The part of a pg client a plan uses (a recorder in the test). */
export interface SqlClient { query(sql: string, params?: unknown[]): Promise<unknown> }

/** Who a request acts as. */
export interface FloorActor { clinicId: string; userId: string; role: string; tokenId: string }

export type FloorPlan = (client: SqlClient) => Promise<void>;

// Builds SQL only (no connection): the same builder, so the same text the server sends.
const sqlBuilder = knexFactory({ client: 'pg' });

const COLUMNS = (table: string, patient: string) =>
  `${table}.id, ${table}.version_id, ${table}.last_updated, ${table}.deleted, ${table}.resource::text as resource, ${table}.${patient}`;

function audit(actor: FloorActor, facts: Partial<AuditFacts> & Pick<AuditFacts, 'interaction' | 'action'>): { sql: string; bindings: unknown[] } {
  const full: AuditFacts = {
    outcome: '0', clinicId: actor.clinicId, userId: actor.userId, roleName: actor.role, sourceIp: '127.0.0.1', requestId: crypto.randomUUID(), ...facts,
  };
  const event = buildAuditEvent(full);
  const { sql, bindings } = sqlBuilder('audit_event').insert(auditRow({ ...event, recorded: event.recorded as string }, actor.clinicId, full.patientIds)).toSQL().toNative();
  return { sql, bindings: [...bindings] };
}

/** Token check, transaction, context, the request's own statements, its audit row, commit. */
async function request(c: SqlClient, actor: FloorActor, work: () => Promise<void>, auditOf: () => { sql: string; bindings: unknown[] }): Promise<void> {
  await c.query('select oauth_token_revoked($1) as revoked', [actor.tokenId]);
  await c.query('BEGIN;');
  await c.query('select app_begin($1::uuid, $2::uuid, $3::uuid) as ctx', [actor.clinicId, actor.userId, null]);
  await work();
  const a = auditOf();
  await c.query(a.sql, a.bindings);
  await c.query('COMMIT;');
}

export function readPatientFloor(actor: () => FloorActor, patientId: () => string): FloorPlan {
  return async (c) => {
    const who = actor();
    const id = patientId();
    await request(c, who,
      () => c.query(`select ${COLUMNS('patient', 'id as patient_id')} from "patient" where "id" = $1 limit $2`, [id, 1]).then(() => undefined),
      () => audit(who, { interaction: 'read', action: 'R', resourceType: 'Patient', resourceId: id, versionId: '1', patientIds: [id] }));
  };
}

export function searchFamilyFloor(actor: () => FloorActor, family: () => string): FloorPlan {
  return async (c) => {
    const who = actor();
    const f = family();
    await request(c, who,
      () => c.query(`select ${COLUMNS('patient', 'id as patient_id')} from "patient" where "patient"."deleted" = $1 and (sp_family like $2) order by "last_updated" desc, "id" asc limit $3`,
        [false, `%\u001f${f.toLowerCase()}%`, 21]).then(() => undefined),
      () => audit(who, { interaction: 'search-type', action: 'E', resourceType: 'Patient', query: `family=${f}&_count=20`, patientIds: [] }));
  };
}

export function appointmentSearchFloor(actor: () => FloorActor, patientId: () => string, range: { from: string; to: string }): FloorPlan {
  return async (c) => {
    const who = actor();
    const id = patientId();
    await request(c, who,
      () => c.query(`select ${COLUMNS('appointment', 'patient_id')} from "appointment" where "appointment"."deleted" = $1 and sp_patient && $2::text[] and (sp_date_hi > $3) and (sp_date_lo < $4) order by "last_updated" desc, "id" asc limit $5`,
        [false, [`Patient/${id}`], new Date(range.from), new Date(range.to), 21]).then(() => undefined),
      () => audit(who, { interaction: 'search-type', action: 'E', resourceType: 'Appointment', query: `patient=${id}&date=ge${range.from}&date=lt${range.to}`, patientIds: [id] }));
  };
}

export function auditSearchFloor(actor: () => FloorActor, patientId: () => string, since: string): FloorPlan {
  return async (c) => {
    const who = actor();
    const id = patientId();
    await request(c, who,
      () => c.query(`select ${COLUMNS('audit_event', 'patient_id')} from "audit_event" where "audit_event"."deleted" = $1 and sp_patient && $2::text[] and (sp_date_hi > $3) order by "last_updated" desc, "id" asc limit $4`,
        [false, [`Patient/${id}`], new Date(since), 21]).then(() => undefined),
      () => audit(who, { interaction: 'search-type', action: 'E', resourceType: 'AuditEvent', query: `patient=Patient/${id}&date=ge${since}`, patientIds: [id] }));
  };
}

export function createPatientFloor(actor: () => FloorActor, body: () => FhirResource): FloorPlan {
  return async (c) => {
    const who = actor();
    const id = crypto.randomUUID();
    await request(c, who, async () => {
      await c.query('SAVEPOINT trx1;');
      const { row } = versionRow(PatientDefinition, stampVersion(body(), id, 1, new Date().toISOString()), false);
      const { sql, bindings } = sqlBuilder('patient').insert({ ...row, clinic_id: sqlBuilder.raw('app_clinic_id()') }).toSQL().toNative();
      await c.query(sql, [...bindings]);
      await c.query('RELEASE SAVEPOINT trx1;');
    }, () => audit(who, { interaction: 'create', action: 'C', resourceType: 'Patient', resourceId: id, versionId: '1', patientIds: [id] }));
  };
}
