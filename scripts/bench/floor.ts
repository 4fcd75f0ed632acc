/**
 * The SQL the server sends for one request of each scenario, statement for statement (the test
 * test/bench/floor-sql.test.ts holds the two together), so the floor is PostgreSQL doing exactly the
 * server's database work with nothing else around it.
 */
import crypto from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { statementName } from '../../db/knex-client';
import type { AuditFacts } from '../../server/audit/record';
import { auditInsertSql, withRequestFacts } from '../../server/audit/writer';
import { sqlLiteral } from '../../db/literal';
import { Repository, stampVersion, versionRow, type FhirResource } from '../../server/fhir/repository';
import { defaultRoles } from '../../server/auth/permissions';
import type { AccessContext } from '../../server/auth/access-context';
import { logger } from '../../server/http/logger';
import { runWithRequest } from '../../server/http/request-context';
import { parseScopes } from '../../server/auth/scopes';
import '../../server/fhir/resources';
import { planSearch } from '../../server/fhir/handlers/search';
import type { FhirDeps } from '../../server/fhir/interaction';
import { oneTripReadPlan } from '../../server/fhir/one-trip-read';
import { oneTripSearch } from '../../server/fhir/one-trip-search';
import { sendOneTrip } from '../../server/pipeline/one-trip';
import type { FhirRequest } from '../../server/fhir/request';
import { AppointmentDefinition } from '../../server/fhir/resources/appointment';
import { AuditEventDefinition } from '../../server/fhir/resources/audit-event';
import { PatientDefinition } from '../../server/fhir/resources/patient';
import type { ResourceDefinition } from '../../server/fhir/resources/types';
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
    await ensureStamp(c, who);
    const facts = withRequestFacts({ interaction: 'read', action: 'R', outcome: '0', clinicId: who.clinicId, userId: who.userId, roleName: who.role, sourceIp: '127.0.0.1', requestId: crypto.randomUUID(), resourceType: 'Patient', resourceId: id });
    await sendOneTrip(c, checkedBeginSql(who.clinicId, who.userId, null, who.tokenId, who.stamp as string), oneTripReadPlan(PatientDefinition, id, facts));
  };
}

/** What the server knows of a floor actor when it plans a search: a user token with every verb, the role's default tree. */
function floorAccess(who: FloorActor): AccessContext {
  return { clinicId: who.clinicId, userId: who.userId, tokenId: who.tokenId, revocable: true, scopes: parseScopes('user/*.cruds').resource, scopeText: 'user/*.cruds' };
}

const FLOOR_DEPS = { db: sqlBuilder, cfg: { fhirBaseUrl: 'http://127.0.0.1/fhir' }, pageSecret: 'floor' } as unknown as FhirDeps;

/** A search page in ONE round trip, as the server sends it once the caller's role is cached (fhir/one-trip-search.ts). */
function searchInOneTripFloor(c: SqlClient, who: FloorActor, def: ResourceDefinition, query: Array<[string, string]>): Promise<unknown> {
  const access = floorAccess(who);
  const req: FhirRequest = { method: 'GET', params: { type: def.type }, query, headers: {}, body: '' };
  const plan = planSearch(FLOOR_DEPS, def, access, req, undefined);
  const repo = new Repository(def, sqlBuilder as unknown as Knex.Transaction, { fhirBase: FLOOR_DEPS.cfg.fhirBaseUrl });
  const membership = { role: who.role, permissions: defaultRoles()[who.role], stamp: who.stamp };
  // As inside a request: its id and source address reach the AuditEvent.
  const trip = runWithRequest({ requestId: crypto.randomUUID(), method: 'GET', path: `/fhir/${def.type}`, sourceIp: '127.0.0.1', log: logger },
    () => oneTripSearch(FLOOR_DEPS, def, access, req, plan, membership, undefined, repo));
  if (!trip) throw new Error(`the ${who.role} role does not plainly grant ${def.type} search`);
  return sendOneTrip(c, checkedBeginSql(who.clinicId, who.userId, null, who.tokenId, who.stamp as string), trip);
}

/** The role's stamp the server checks a cached role against (looked up once per actor). */
async function ensureStamp(c: SqlClient, who: FloorActor): Promise<void> {
  if (who.stamp) return;
  const res = await c.query(`select (app_begin(${sqlLiteral(who.clinicId)}::uuid, ${sqlLiteral(who.userId)}::uuid, null::uuid, ${sqlLiteral(who.tokenId)})->>'stamp') as stamp`) as { rows: Array<{ stamp: string }> };
  who.stamp = res.rows[0].stamp;
}

export function searchFamilyFloor(actor: () => FloorActor, family: () => string): FloorPlan {
  return async (c) => {
    const who = actor();
    await ensureStamp(c, who);
    await searchInOneTripFloor(c, who, PatientDefinition, [['family', family()], ['_count', '20']]);
  };
}

export function appointmentSearchFloor(actor: () => FloorActor, patientId: () => string, range: { from: string; to: string }): FloorPlan {
  return async (c) => {
    const who = actor();
    await ensureStamp(c, who);
    await searchInOneTripFloor(c, who, AppointmentDefinition, [['patient', patientId()], ['date', `ge${range.from}`], ['date', `lt${range.to}`]]);
  };
}

export function auditSearchFloor(actor: () => FloorActor, patientId: () => string, since: string): FloorPlan {
  return async (c) => {
    const who = actor();
    await ensureStamp(c, who);
    await searchInOneTripFloor(c, who, AuditEventDefinition, [['patient', `Patient/${patientId()}`], ['date', `ge${since}`]]);
  };
}

/** A create in ONE round trip, as the server sends it once the caller's role is cached (fhir/one-trip-create.ts). */
export function createPatientFloor(actor: () => FloorActor, body: () => FhirResource): FloorPlan {
  return async (c) => {
    const who = actor();
    await ensureStamp(c, who);
    const id = crypto.randomUUID();
    const { row } = versionRow(PatientDefinition, stampVersion(body(), id, 1, new Date().toISOString()), false);
    const cols = Object.keys(row);
    const facts = withRequestFacts({ interaction: 'create', action: 'C', outcome: '0', clinicId: who.clinicId, userId: who.userId, roleName: who.role, sourceIp: '127.0.0.1', requestId: crypto.randomUUID(), resourceType: 'Patient', resourceId: id, versionId: '1', patientIds: [id] });
    await c.query(`${checkedBeginSql(who.clinicId, who.userId, null, who.tokenId, who.stamp as string)}; insert into patient (${cols.join(', ')}, clinic_id) values (${cols.map((k) => sqlLiteral(row[k])).join(', ')}, app_clinic_id()) returning id; ${auditInsertSql(facts)}; COMMIT`);
  };
}
