import crypto from 'node:crypto';
import { sqlLiteral } from '../../db/literal';
import { AUDIT_COLUMNS, type AuditRecord } from './record';

/**
 * JSON Canonicalization Scheme (RFC 8785) for the values an audit row holds (strings, finite
 * numbers, booleans, null, arrays, objects): object keys sorted by UTF-16 code units, no
 * whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (which RFC 8785 adopts).
 */
export function jcs(v: unknown): string {
  if (v === null || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'string') return jsonString(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('JCS has no form for a non-finite number');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : jcs(x))).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs(o[k])}`).join(',')}}`;
  }
  throw new Error(`JCS has no form for a ${typeof v}`);
}

/** A lone surrogate cannot be stored as UTF-8: PostgreSQL keeps U+FFFD, so the hash must too. */
const jsonString = (v: string): string => JSON.stringify(v.isWellFormed() ? v : v.toWellFormed());

/** The columns the canonical form covers: the event's facts, and the stored document of rows from before migration 028. */
export const CANONICAL_COLUMNS = [...AUDIT_COLUMNS, 'legacy'] as const;
type CanonicalColumn = (typeof CANONICAL_COLUMNS)[number];
/** The same columns in JCS key order (the SQL form of the hash writes them in this order). */
const JCS_ORDER = [...CANONICAL_COLUMNS].sort();
/** uuid columns: PostgreSQL answers them in lower case whatever case they were written in. */
const UUID_COLUMNS = new Set<string>(['id', 'clinic_id', 'patient_id']);

/** Each column's `"name":` as JCS writes it. */
const KEY_TEXT: Readonly<Record<string, string>> = Object.fromEntries(CANONICAL_COLUMNS.map((k) => [k, `${JSON.stringify(k)}:`]));
/** An instant exactly as Date#toISOString writes it (what the canonical form holds). */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The JCS text of one column's value: `last_updated` as an ISO instant, uuids in lower case, the
 * rest as JCS writes them. Every audit read and write runs this, so the common cases (strings, an
 * instant already in ISO form) skip the generic walk.
 */
function canonicalText(k: string, v: unknown): string {
  if (k === 'last_updated') return `"${typeof v === 'string' && ISO_INSTANT.test(v) ? v : new Date(v as string | Date).toISOString()}"`;
  if (UUID_COLUMNS.has(k)) return jsonString(String(v).toLowerCase());
  if (typeof v === 'string') return jsonString(v);
  if (k === 'patient_ids') return jcs((v as string[]).map((p) => p.toLowerCase()));
  return jcs(v);
}

/**
 * The one canonical form of an audit row: its columns as a JCS object, null columns left out,
 * `last_updated` as an ISO instant and uuids in lower case, so an outside verifier recomputes it
 * from an export of the row (or from the row as read back from the database).
 */
export function canonicalAuditRow(r: AuditRecord | Record<string, unknown>): string {
  const row = r as Record<string, unknown>;
  let out = '';
  for (const k of JCS_ORDER) {
    const v = row[k];
    if (v === null || v === undefined) continue;
    out += `${out ? ',' : ''}${KEY_TEXT[k]}${canonicalText(k, v)}`;
  }
  return `{${out}}`;
}

/** SHA-256 of the row's canonical form: written with the row, in the request's transaction. */
export function auditRowHash(r: AuditRecord | Record<string, unknown>): Buffer {
  return crypto.hash('sha256', canonicalAuditRow(r), 'buffer');
}

/**
 * The canonical text of a row's known columns around the ones a statement computes: in JCS key
 * order, the known columns' JCS text between one computed column and the next, merged into one
 * string (null where none lies between). One group more than there are computed columns.
 */
export function knownGroups(r: AuditRecord, computed: readonly string[]): Array<string | null> {
  const row = r as unknown as Record<string, unknown>;
  const groups: Array<string | null> = [];
  let known = '';
  for (const k of JCS_ORDER) {
    if (computed.includes(k)) {
      groups.push(known || null);
      known = '';
      continue;
    }
    const v = row[k];
    if (v !== null && v !== undefined) known += `${known ? ',' : ''}${KEY_TEXT[k]}${canonicalText(k, v)}`;
  }
  groups.push(known || null);
  return groups;
}

/**
 * The row's hash as a SQL expression, for a row some of whose columns the statement computes (a
 * one-round-trip read audits the version it read): the canonical text is assembled in SQL, in JCS
 * key order, from the known groups (`groups`: SQL text or parameters, one per knownGroups entry;
 * concat_ws leaves out a null one) and the computed columns' to_json, leaving out nulls. Built
 * from concat and concat_ws only: every `||` on an untyped literal costs PostgreSQL an operator
 * resolution at each parse.
 */
export function hashSqlOf(computed: Partial<Record<CanonicalColumn, string>>, groups: readonly string[]): string {
  const parts: string[] = [];
  let g = 0;
  for (const k of JCS_ORDER) {
    const expr = computed[k];
    if (expr === undefined) continue;
    parts.push(groups[g++], `case when (${expr}) is null then null else concat(${sqlLiteral(KEY_TEXT[k])}, to_json(${expr})) end`);
  }
  parts.push(groups[g]);
  return `sha256(convert_to(concat('{', concat_ws(',', ${parts.join(', ')}), '}'), 'UTF8'))`;
}

