/** `items` as a PostgreSQL array literal (`{"a","b"}`): each element quoted, `"` and `\` escaped. */
function arrayLiteral(items: readonly unknown[]): string {
  return `{${items.map((i) => (i === null || i === undefined ? 'NULL' : `"${escapeElement(String(i))}"`)).join(',')}}`;
}

const escapeElement = (s: string) => (s.includes('"') || s.includes('\\') ? s.replace(/["\\]/g, (c) => `\\${c}`) : s);

/** pg's escapeLiteral, with native replaces instead of a character loop (audit rows carry kilobytes of JSON). */
function quote(s: string): string {
  if (!s.includes("'") && !s.includes('\\')) return `'${s}'`;
  const quoted = s.replace(/'/g, "''");
  return s.includes('\\') ? ` E'${quoted.replace(/\\/g, '\\\\')}'` : `'${quoted}'`;
}

/**
 * A value as an SQL literal (quoted as pg's escapeLiteral quotes), for the few statements that must
 * travel in a multi-statement simple query, where parameters cannot. Untyped literals take the type
 * of the column they are inserted into.
 */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('a non-finite number has no SQL literal');
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return quote(v.toISOString());
  if (Array.isArray(v)) return quote(arrayLiteral(v));
  if (typeof v === 'string') return quote(v);
  throw new Error(`no SQL literal for a ${typeof v}`);
}

/** `insert into <table> (<columns>) values (<literals>)`; the column names are our own. */
export function insertLiteral(table: string, row: Record<string, unknown>): string {
  const cols = Object.keys(row);
  return `insert into ${table} (${cols.join(', ')}) values (${cols.map((c) => sqlLiteral(row[c])).join(', ')})`;
}
