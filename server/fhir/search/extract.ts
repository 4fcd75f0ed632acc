import { searchColumnName } from '../../../db/resource-table';
import type { ResourceDefinition, SearchParamDef } from '../resources/types';
import { dateRange, normalizeString, referencesOf, stringsOf, tokenEntries, tokensOf, valuesAt } from './values';

export const SEP = '\u001f';

// An open Period end is JavaScript's last instant, which PostgreSQL cannot parse: store it as infinity.
const pgInstant = (d: Date): string => (d.getTime() >= 8.64e15 ? 'infinity' : d.getTime() <= -8.64e15 ? '-infinity' : d.toISOString());

// Column names of each parameter, worked out once (every write and every request's AuditEvent extracts).
const columnNames = new WeakMap<SearchParamDef, { col: string; exact: string; lo: string; hi: string }>();
function namesOf(p: SearchParamDef) {
  let n = columnNames.get(p);
  if (!n) {
    const col = searchColumnName(p.name);
    n = { col, exact: `${col}_exact`, lo: `${col}_lo`, hi: `${col}_hi` };
    columnNames.set(p, n);
  }
  return n;
}

function valuesOf(p: SearchParamDef, resource: unknown): unknown[] {
  return p.paths.length === 1 ? valuesAt(resource, p.paths[0]) : p.paths.flatMap((path) => valuesAt(resource, path));
}

/** Writes the column values of one search parameter into `out`, as the migration's typed columns expect them. */
function writeColumns(out: Record<string, unknown>, p: SearchParamDef, resource: unknown): void {
  const n = namesOf(p);
  const found = valuesOf(p, resource);
  switch (p.type) {
    case 'string': {
      const raw = [...new Set(found.flatMap(stringsOf))];
      out[n.col] = raw.length ? SEP + raw.map(normalizeString).join(SEP) + SEP : null;
      out[n.exact] = raw.length ? raw : null;
      return;
    }
    case 'token': {
      const entries = tokenEntries(found.flatMap((v) => tokensOf(v, p.system)));
      out[n.col] = entries.length ? entries : null;
      return;
    }
    case 'reference': {
      const refs = [...new Set(found.flatMap((v) => referencesOf(v, p.targets)))];
      out[n.col] = refs.length ? refs : null;
      return;
    }
    case 'date': {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of found) {
        const r = dateRange(v);
        if (r) { lo = Math.min(lo, r[0].getTime()); hi = Math.max(hi, r[1].getTime()); }
      }
      out[n.lo] = lo === Infinity ? null : pgInstant(new Date(lo));
      out[n.hi] = hi === -Infinity ? null : pgInstant(new Date(hi));
    }
  }
}

/** Every search column of a resource, extracted on write (and for each request's AuditEvent). */
export function extractSearchColumns(def: ResourceDefinition, resource: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of def.search) {
    if (p.name.startsWith('_')) continue;
    writeColumns(out, p, resource);
  }
  return out;
}

/** The patient whose compartment holds this resource (Patient: itself; a type in no compartment: null). */
export function compartmentPatient(def: ResourceDefinition, resource: { id?: string }): string | null {
  if (def.compartment === 'self') return resource.id ?? null;
  if (!('paths' in def.compartment)) return null;
  for (const path of def.compartment.paths) {
    for (const v of valuesAt(resource, path)) {
      const [typed] = referencesOf(v);
      if (typed?.startsWith('Patient/')) return typed.slice('Patient/'.length);
    }
  }
  return null;
}
