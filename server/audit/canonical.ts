import type { AuditRecord } from './record';

/**
 * JSON Canonicalization Scheme (RFC 8785) for the values an audit row holds (strings, finite
 * numbers, booleans, null, arrays, objects): object keys sorted by UTF-16 code units, no
 * whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (which RFC 8785 adopts).
 */
export function jcs(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
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

/**
 * The one canonical form of an audit row: its columns as a JCS object, null columns left out and
 * `last_updated` as an ISO instant, so an outside verifier recomputes it from an export of the row.
 */
export function canonicalAuditRow(r: AuditRecord): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (v === null || v === undefined) continue;
    out[k] = k === 'last_updated' ? new Date(v as string | Date).toISOString() : v;
  }
  return jcs(out);
}
