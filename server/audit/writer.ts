import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { LITERAL_SQL } from '../../db/knex-client';
import { sqlLiteral } from '../../db/literal';
import { currentRequest } from '../http/request-context';
import { withClinic } from '../tenancy/with-clinic';
import { auditRowHash, hashSqlOf, knownGroups } from './canonical';
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

/** The values of a row in AUDIT_COLUMN_LIST order as SQL literals, its hash (computed here) last. */
function literals(r: AuditRecord): string {
  const values = AUDIT_COLUMNS.map((c) => columnLiteral(r, c));
  // The hash of the canonical row, in the request's transaction.
  return [...values, hashing ? `'\\x${auditRowHash(r).toString('hex')}'::bytea` : 'null'].join(', ');
}

type AuditColumn = (typeof AUDIT_COLUMNS)[number];

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

interface ValuesShape { sql: string; types: string[]; known: AuditColumn[]; computedKeys: string[] }
const valueShapes = new Map<string, ValuesShape>();

/**
 * An audit row's values for a prepared statement, in AUDIT_COLUMN_LIST order with its hash last:
 * the known columns and the hash's known groups (knownGroups) are parameters numbered from
 * `first`, the `computed` columns the SQL given, and the hash is computed in SQL from both. One
 * shape serves every row with the same computed columns (hashing on or off); `args` are this row's
 * values as literals, for EXECUTE.
 */
export function preparedAuditValues(r: AuditRecord, computed: Partial<Record<AuditColumn, string>>, first: number): { sql: string; types: string[]; args: string[] } {
  const shapeKey = `${hashing}\n${first}\n${JSON.stringify(computed)}`;
  let shape = valueShapes.get(shapeKey);
  if (!shape) {
    const known = AUDIT_COLUMNS.filter((c) => computed[c] === undefined);
    const computedKeys = Object.keys(computed).sort();
    const param = new Map(known.map((c, i) => [c, `$${first + i}`]));
    const groups = hashing ? [...computedKeys, ''].map((_k, i) => `$${first + known.length + i}::text`) : [];
    const values = AUDIT_COLUMNS.map((c) => computed[c] ?? param.get(c));
    shape = {
      sql: `${values.join(', ')}, ${hashing ? hashSqlOf(computed, groups) : 'null'}`,
      types: [...known.map((c) => AUDIT_COLUMN_TYPES[c]), ...groups.map(() => 'text')],
      known, computedKeys,
    };
    valueShapes.set(shapeKey, shape);
  }
  const args = shape.known.map((c) => columnLiteral(r, c));
  if (hashing) args.push(...knownGroups(r, shape.computedKeys).map(sqlLiteral));
  return { sql: shape.sql, types: shape.types, args };
}

// Statement names by text, so a statement sent again is not hashed again (bounded: search shapes are many).
const names = new Map<string, string>();

/**
 * `text` as a statement prepared once per connection and run by name: `types` are its parameters'
 * types (`unknown`: inferred from where the parameter stands), `args` their values as literals.
 * The name is `kind` and a hash of the types and text, so the same name is always the same statement.
 */
export function preparedStatement(kind: string, text: string, types: readonly string[], args: readonly string[]): PreparedSql {
  const signature = `(${types.join(', ')}) as ${text}`;
  let name = names.get(signature);
  if (!name) {
    if (names.size >= 1000) names.clear();
    name = `${kind}_${crypto.hash('sha256', signature, 'hex').slice(0, 24)}`;
    names.set(signature, name);
  }
  return { name, prepare: `prepare ${name} ${signature}`, execute: `execute ${name}(${args.join(', ')})` };
}

/**
 * The INSERT of a one-patient audit row written once for each row `from` yields (none: the access
 * it records did not succeed), some columns taken from that row (the version read, the row's
 * patient), its hash computed in SQL from the same values; for a request sent in one round trip.
 * Prepared: PostgreSQL parses and plans the INSERT and its hash expression once per connection
 * instead of on every request, which cost it more than running them. `from` names its one value
 * `$key` (the id looked up); the known columns, the hash's known groups and that value are the
 * parameters, so one statement serves every row of its shape: the same `from`, the same computed
 * columns, hashing on or off.
 */
export function preparedAuditInsertFrom(r: AuditRecord, from: string, key: string, computed: Partial<Record<AuditColumn, string>>): PreparedSql {
  if (r.patient_ids) throw new Error('a conditional audit row names at most one patient');
  const v = preparedAuditValues(r, computed, 1);
  const text = `insert into audit_event (${AUDIT_COLUMN_LIST}) select ${v.sql} from ${from.replaceAll('$key', `$${v.types.length + 1}`)}`;
  return preparedStatement('audit', text, [...v.types, 'text'], [...v.args, sqlLiteral(key)]);
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
