import { searchColumnName } from '../../../db/resource-table';
import type { ResourceDefinition, SearchParamDef } from '../resources/types';
import { dateRange, normalizeString, referencesOf, stringsOf, tokenEntries, tokensOf, valuesAt } from './values';

export const SEP = '\u001f';

// An open Period end is JavaScript's last instant, which PostgreSQL cannot parse: store it as infinity.
export const pgInstant = (d: Date): string => (d.getTime() >= 8.64e15 ? 'infinity' : d.getTime() <= -8.64e15 ? '-infinity' : d.toISOString());

/** Column values of one search parameter, as the migration's typed columns expect them. */
function columnsOf(p: SearchParamDef, resource: unknown): Record<string, unknown> {
  const col = searchColumnName(p.name);
  const found = p.paths.flatMap((path) => valuesAt(resource, path));
  switch (p.type) {
    case 'string': {
      const raw = [...new Set(found.flatMap(stringsOf))];
      return {
        [col]: raw.length ? SEP + raw.map(normalizeString).join(SEP) + SEP : null,
        [`${col}_exact`]: raw.length ? raw : null,
      };
    }
    case 'token': {
      const entries = tokenEntries(found.flatMap((v) => tokensOf(v, p.system)));
      return { [col]: entries.length ? entries : null };
    }
    case 'reference': {
      const refs = [...new Set(found.flatMap((v) => referencesOf(v, p.targets)))];
      return { [col]: refs.length ? refs : null };
    }
    case 'date': {
      const ranges = found.map(dateRange).filter((r): r is [Date, Date] => r !== null);
      if (!ranges.length) return { [`${col}_lo`]: null, [`${col}_hi`]: null };
      const lo = new Date(Math.min(...ranges.map((r) => r[0].getTime())));
      const hi = new Date(Math.max(...ranges.map((r) => r[1].getTime())));
      return { [`${col}_lo`]: pgInstant(lo), [`${col}_hi`]: pgInstant(hi) };
    }
  }
}

/** Every search column of a resource, extracted on write. */
export function extractSearchColumns(def: ResourceDefinition, resource: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of def.search) {
    if (p.name.startsWith('_')) continue;
    Object.assign(out, columnsOf(p, resource));
  }
  return out;
}

/** The patient whose compartment holds this resource (Patient: itself). */
export function compartmentPatient(def: ResourceDefinition, resource: { id?: string }): string | null {
  if (def.compartment === 'self') return resource.id ?? null;
  for (const path of def.compartment.paths) {
    for (const v of valuesAt(resource, path)) {
      const [typed] = referencesOf(v);
      if (typed?.startsWith('Patient/')) return typed.slice('Patient/'.length);
    }
  }
  return null;
}
