import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { LITERAL_SQL } from '../../db/knex-client';
import { sqlLiteral } from '../../db/literal';
import { currentRequest } from '../http/request-context';
import { withClinic } from '../tenancy/with-clinic';
import { auditRowHash, auditRowHashSql, hashSqlOf, knownGroups } from './canonical';
import { AUDIT_COLUMNS, type AuditFacts, auditRecord, type AuditRecord } from './record';

/** The audit_event column list of an INSERT: AUDIT_COLUMNS, then the row's hash. */
export const AUDIT_COLUMN_LIST = [...AUDIT_COLUMNS, 'hash'].join(', ');

let hashing = true;
/** AUDIT_SEAL=off: rows are written without their hash (only to measure what hashing costs). */
export function setAuditHashing(on: boolean): void {
  hashing = on;
}

/** One column of a row as an SQL literal (`detail` as its JSON text). */
const columnLiteral = (r: AuditRecord, c: AuditColumn): string => sqlLiteral(c === 'detail' && r.detail !== null ? JSON.stringify(r.detail) : r[c]);

/** The values of a row in AUDIT_COLUMN_LIST order, as SQL literals (or the SQL expressions `computed` gives). */
function literals(r: AuditRecord, computed: Partial<Record<AuditColumn, string>> = {}): string {
  const values = AUDIT_COLUMNS.map((c) => computed[c] ?? columnLiteral(r, c));
  // The hash of the canonical row, in the request's transaction; in SQL when the statement computes columns.
  const hash = !hashing ? 'null' : Object.keys(computed).length ? auditRowHashSql(r, computed) : `'\\x${auditRowHash(r).toString('hex')}'::bytea`;
  return [...values, hash].join(', ');
}

type AuditColumn = (typeof AUDIT_COLUMNS)[number];

/**
 * The INSERT of a one-patient audit row that is written only when `when` holds (the access it
 * records succeeded), some columns computed in SQL from what the statement beside it read (the
 * version read, the row's patient): for a request sent in one round trip.
 */
export function auditValuesSql(r: AuditRecord, computed: Partial<Record<AuditColumn, string>>): string {
  return literals(r, computed);
}

/** A statement prepared once per connection (PREPARE) and then run by name (EXECUTE), its values as literals. */
export interface PreparedSql {
  /** Names the statement's text: the same name is always the same statement. */
  name: string;
  prepare: string;
  execute: string;
}

/** audit_event's column types, for the parameters of a prepared INSERT (migration 028). */
const AUDIT_COLUMN_TYPES: Readonly<Record<AuditColumn, string>> = {
  id: 'uuid', clinic_id: 'uuid', last_updated: 'timestamptz', type: 'text', subtype: 'text', action: 'text', outcome: 'text',
  outcome_desc: 'text', user_id: 'text', fhir_user: 'text', client_id: 'text', role: 'text', source_ip: 'text', purpose_of_use: 'text',
  request_id: 'text', patient_id: 'uuid', patient_ids: 'uuid[]', entity_type: 'text', entity_id: 'text', entity_version: 'text',
  related: 'text[]', query: 'text', detail: 'jsonb',
};

interface PreparedShape { name: string; prepare: string; known: AuditColumn[]; computedKeys: string[] }
const shapes = new Map<string, PreparedShape>();

/**
 * The INSERT of a one-patient audit row written once for each row `from` yields (none: the access
 * it records did not succeed), some columns taken from that row (the version read, the row's
 * patient), its hash computed in SQL from the same values; for a request sent in one round trip.
 * Prepared: PostgreSQL parses and plans the INSERT and its hash expression once per connection
 * instead of on every request, which cost it more than running them. `from` names its one value
 * `$key` (the id looked up); the known columns, the hash's known groups (knownGroups) and that
 * value are the parameters, so one statement serves every row of its shape: the same `from`, the
 * same computed columns, hashing on or off.
 */
export function preparedAuditInsertFrom(r: AuditRecord, from: string, key: string, computed: Partial<Record<AuditColumn, string>>): PreparedSql {
  if (r.patient_ids) throw new Error('a conditional audit row names at most one patient');
  const shapeKey = `${hashing}\n${from}\n${JSON.stringify(computed)}`;
  let shape = shapes.get(shapeKey);
  if (!shape) {
    const known = AUDIT_COLUMNS.filter((c) => computed[c] === undefined);
    const computedKeys = Object.keys(computed).sort();
    const param = new Map(known.map((c, i) => [c, `$${i + 1}`]));
    const groups = computedKeys.map((_k, i) => `$${known.length + i + 1}::text`).concat(`$${known.length + computedKeys.length + 1}::text`);
    const keyParam = `$${known.length + (hashing ? groups.length : 0) + 1}`;
    const values = AUDIT_COLUMNS.map((c) => computed[c] ?? param.get(c));
    const types = [...known.map((c) => AUDIT_COLUMN_TYPES[c]), ...(hashing ? groups.map(() => 'text') : []), 'text'];
    const text = `(${types.join(', ')}) as insert into audit_event (${AUDIT_COLUMN_LIST}) select ${values.join(', ')}, ${hashing ? hashSqlOf(computed, groups) : 'null'} from ${from.replaceAll('$key', keyParam)}`;
    const name = `audit_${crypto.hash('sha256', text, 'hex').slice(0, 24)}`;
    shape = { name, prepare: `prepare ${name} ${text}`, known, computedKeys };
    shapes.set(shapeKey, shape);
  }
  const args = shape.known.map((c) => columnLiteral(r, c));
  if (hashing) args.push(...knownGroups(r, shape.computedKeys).map(sqlLiteral));
  args.push(sqlLiteral(key));
  return { name: shape.name, prepare: shape.prepare, execute: `execute ${shape.name}(${args.join(', ')})` };
}

/**
 * The INSERT of one audit row with literal values, so it can travel with the COMMIT of the
 * request's transaction (one round trip). An event about several patients also writes their
 * audit_event_patient rows in the same statement.
 */
export function auditRecordInsertSql(r: AuditRecord): string {
  const insert = `insert into audit_event (${AUDIT_COLUMN_LIST}) values (${literals(r)})`;
  if (!r.patient_ids) return insert;
  return `with e as (${insert}) insert into audit_event_patient (clinic_id, patient_id, last_updated, id) `
    + `select ${sqlLiteral(r.clinic_id)}::uuid, p, ${sqlLiteral(r.last_updated)}::timestamptz, ${sqlLiteral(r.id)}::uuid from unnest(${sqlLiteral(r.patient_ids)}::uuid[]) p`;
}

export function auditInsertSql(facts: AuditFacts): string {
  return auditRecordInsertSql(auditRecord(facts));
}

/**
 * Appends one AuditEvent inside the caller's transaction, so the audit row and the data access
 * commit together (no audit row, no data).
 */
export async function writeAudit(trx: Knex.Transaction, facts: AuditFacts): Promise<string> {
  const r = auditRecord(withRequestFacts(facts));
  await trx.raw(auditRecordInsertSql(r)).options(LITERAL_SQL);
  return r.id;
}

/**
 * Records an event outside a request transaction: refusals before one exists (a 401 for a known
 * user, no membership) and serious failures after a rollback. The row goes to the clinic the token
 * named; events with no trustworthy clinic are kept with clinic_id NULL for operators.
 */
export async function recordAudit(db: Knex, facts: AuditFacts): Promise<void> {
  await recordAudits(db, [facts]);
}

/** Several events of one caller in one transaction of their own (a refusal and those recorded before it). */
export async function recordAudits(db: Knex, events: readonly AuditFacts[]): Promise<void> {
  if (!events.length) return;
  const [first] = events;
  await withClinic(db, { clinicId: first.clinicId ?? '', userId: first.userId ?? '' }, async ({ trx }) => {
    await trx.raw(events.map((f) => auditInsertSql(withRequestFacts(f))).join('; ')).options(LITERAL_SQL);
  });
}

/** The request's own facts (request id, source address, purpose of use) under an event's. */
export function withRequestFacts(f: AuditFacts): AuditFacts {
  const info = currentRequest();
  return info ? { requestId: info.requestId, sourceIp: info.sourceIp, purposeOfUse: info.purposeOfUse, ...f } : f;
}
