import type { Knex } from 'knex';
import { isUuid } from '../../http/ids';
import type { BundleEntryText } from '../bundle';
import { type InteractionContext, permits } from '../interaction';
import { Repository, type StoredVersion } from '../repository';
import { RESOURCE_DEFINITIONS, definitionOf } from '../resources';
import type { ResourceDefinition, SearchParamDef } from '../resources/types';
import { referenceClause } from './compile';
import { type IncludeSpec, servedTargets } from './include-spec';
import { referencesOf, valuesAt } from './values';

/** At most this many included resources per page, so one search cannot fan out without bound. */
export const MAX_INCLUDED = 1000;

const referenceParams = (def: ResourceDefinition) => def.search.filter((p) => p.type === 'reference' && servedTargets(p).length > 0);

/** `_include` values this server supports on a search of `def` (the CapabilityStatement lists them). */
export function searchIncludes(def: ResourceDefinition): string[] {
  return referenceParams(def).map((p) => `${def.type}:${p.name}`);
}

/** `_revinclude` values supported on a search of `def`: reference parameters of any type that can point at it. */
export function searchRevIncludes(def: ResourceDefinition): string[] {
  return RESOURCE_DEFINITIONS.flatMap((src) => referenceParams(src)
    .filter((p) => servedTargets(p).includes(def.type))
    .map((p) => `${src.type}:${p.name}`));
}

export interface Included {
  entries: BundleEntryText[];
  patientIds: string[];
  /** Types the caller may not read: left out and reported, never queried. */
  withheld: Array<{ resourceType: string; reason: string }>;
  truncated: boolean;
}

/** Ids of `type` that the matches reference through `param`. */
function forwardIds(param: SearchParamDef, type: string, matches: StoredVersion[]): string[] {
  const ids = new Set<string>();
  for (const m of matches) {
    const resource: unknown = JSON.parse(m.resource);
    for (const v of param.paths.flatMap((path) => valuesAt(resource, path))) {
      for (const ref of referencesOf(v, [type])) {
        const id = ref.startsWith(`${type}/`) ? ref.slice(type.length + 1) : '';
        if (isUuid(id)) ids.add(id.toLowerCase());
      }
    }
  }
  return [...ids];
}

/**
 * The resources `specs` add to a page of matches, read inside the same RLS transaction (clinic and
 * compartment apply as to the matches) and only for types the caller may read.
 */
export async function fetchIncludes(ctx: InteractionContext, specs: IncludeSpec[], matches: StoredVersion[]): Promise<Included> {
  const out: Included = { entries: [], patientIds: [], withheld: [], truncated: false };
  if (!specs.length || !matches.length) return out;
  const seen = new Set(matches.map((m) => `${ctx.def.type}/${m.id}`));
  const base = ctx.deps.cfg.fhirBaseUrl;
  for (const spec of specs) {
    for (const type of spec.types) {
      const def = definitionOf(type) as ResourceDefinition;
      const decision = permits(ctx, type, 'read');
      if (!decision.allowed || decision.constraints) {
        if (!out.withheld.some((w) => w.resourceType === type)) {
          out.withheld.push({ resourceType: type, reason: `included ${type} withheld: ${decision.reason ?? 'granular scopes are honoured on search only'}` });
        }
        continue;
      }
      const repo = new Repository(def, ctx.trx, { fhirBase: base, sql: ctx.sql });
      const q = repo.searchQuery();
      if (spec.rev) {
        const w = referenceClause(def, spec.param, matches.map((m) => `${ctx.def.type}/${m.id}`));
        q.whereRaw(w.sql, w.bindings as Knex.RawBinding[]);
      } else {
        const ids = forwardIds(spec.param, type, matches);
        if (!ids.length) continue;
        q.whereIn('id', ids);
      }
      // Granted for this type only through a patient/ scope, in a transaction RLS does not confine: confine the query.
      if (decision.compartmentPatientId && decision.compartmentPatientId !== ctx.compartmentPatientId) {
        repo.confineToCompartment(q, decision.compartmentPatientId);
      }
      const room = MAX_INCLUDED - out.entries.length;
      const rows = await repo.runSearch(q.orderBy('id').limit(room + 1));
      if (rows.length > room) out.truncated = true;
      for (const v of rows.slice(0, room)) {
        const key = `${type}/${v.id}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.entries.push({ fullUrl: `${base}/${key}`, resource: v.resource, search: { mode: 'include' } });
        if (v.patientId) out.patientIds.push(v.patientId);
      }
    }
  }
  return out;
}
