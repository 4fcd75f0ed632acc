import type { Knex } from 'knex';
import { LITERAL_SQL } from '../../db/knex-client';
import { sqlLiteral } from '../../db/literal';
import { currentRequest } from '../http/request-context';
import { withClinic } from '../tenancy/with-clinic';
import { auditRowHash, auditRowHashSql } from './canonical';
import { AUDIT_COLUMNS, type AuditFacts, auditRecord, type AuditRecord } from './record';

/** The audit_event column list of an INSERT: AUDIT_COLUMNS, then the row's hash. */
export const AUDIT_COLUMN_LIST = [...AUDIT_COLUMNS, 'hash'].join(', ');

let hashing = true;
/** AUDIT_SEAL=off: rows are written without their hash (only to measure what hashing costs). */
export function setAuditHashing(on: boolean): void {
  hashing = on;
}

/** The values of a row in AUDIT_COLUMN_LIST order, as SQL literals (or the SQL expressions `computed` gives). */
function literals(r: AuditRecord, computed: Partial<Record<AuditColumn, string>> = {}): string {
  const values = AUDIT_COLUMNS.map((c) => {
    const expr = computed[c];
    if (expr !== undefined) return expr;
    const v = r[c];
    return sqlLiteral(c === 'detail' && v !== null ? JSON.stringify(v) : v);
  });
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

/**
 * The INSERT of a one-patient audit row written once for each row `from` yields (none: the access
 * it records did not succeed), some columns taken from that row (the version read, the row's
 * patient): for a request sent in one round trip. `from` is read once; the row's hash is computed
 * in SQL from the same values.
 */
export function auditInsertFromSql(r: AuditRecord, from: string, computed: Partial<Record<AuditColumn, string>>): string {
  if (r.patient_ids) throw new Error('a conditional audit row names at most one patient');
  return `insert into audit_event (${AUDIT_COLUMN_LIST}) select ${literals(r, computed)} from ${from}`;
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
