import { RESOURCE_DEFINITIONS, definitionOf } from '../../server/fhir/resources';
import type { SearchParamDef } from '../../server/fhir/resources/types';
import type { Rng } from './prng';
import { FAMILIES, IDENTIFIER_SYSTEM } from './world';

/**
 * Random search queries over every parameter the server declares (read from the definitions, so a
 * new parameter is fuzzed without touching this file), every modifier and every result control.
 * `idOf(type)` gives an id of some clinic or patient: often one the caller must not see.
 */

export type IdPicker = (type: string) => string;

const TOKEN_VALUES: Record<string, string[]> = {
  gender: ['male', 'female', 'http://hl7.org/fhir/administrative-gender|female'],
  status: ['booked', 'proposed', 'cancelled', 'active', 'on-hold', 'current', 'superseded'],
  active: ['true', 'false'],
  intent: ['order', 'plan'],
  code: ['197361', 'http://www.nlm.nih.gov/research/umls/rxnorm|310965'],
  type: ['34108-1', 'http://loinc.org|11502-2', 'rest', 'http://dicom.nema.org/resources/ontology/DCM|110114'],
  outcome: ['0', '4', '8'],
  action: ['R', 'C', 'U', 'D', 'E'],
  subtype: ['read', 'search', 'create', 'update', 'delete', 'vread', 'history-instance'],
  contenttype: ['application/pdf'],
  telecom: ['555-0101', 'p2@example.org'],
  phone: ['555-0102'],
  email: ['p3@example.org'],
  'agent-role': ['doctor', 'compliance-officer'],
};

const DATES = ['2026', '2026-01', '2026-03-10', '1975-06-15', '2026-03-10T09:00:00Z', '2020-01-01T00:00:00Z'];
const DATE_PREFIXES = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'];

function tokenValue(rng: Rng, p: SearchParamDef, n: number): string {
  if (p.name === 'identifier') return rng.chance(0.5) ? `${IDENTIFIER_SYSTEM}|p-${n}` : rng.pick(['p-', 'a-', 'm-', 'd-', 'dr-']) + n;
  return rng.pick(TOKEN_VALUES[p.name] ?? ['x', 'fuzz']);
}

function stringValue(rng: Rng, p: SearchParamDef): string {
  if (p.name.startsWith('address')) return rng.pick(['Springfield', 'Shelby', '0', '02100']);
  return rng.pick([...FAMILIES, 'Smi', 'ga', 'Sam', 'Doc1', 'doc', 'Pat']);
}

/** A reference value naming an id of either clinic, in one of the forms the spec allows. */
function referenceValue(rng: Rng, p: SearchParamDef, idOf: IdPicker): string {
  const served = p.targets?.filter((t) => definitionOf(t)) ?? [];
  // A parameter whose targets are not served (encounter, medication) still gets an id to chew on.
  const target = served.length ? rng.pick(served) : p.targets?.[0] ?? 'Patient';
  const kind = p.name === 'agent' ? 'User' : target;
  const id = idOf(kind);
  return rng.weighted([[4, `${target}/${id}`], [2, id], [1, `http://fhir.test/fhir/${target}/${id}`], [1, `${id},${idOf(kind)}`]]);
}

/** One `name[:modifier]=value` criterion of a parameter. */
function criterion(rng: Rng, p: SearchParamDef, idOf: IdPicker): [string, string] {
  const n = rng.int(6);
  if (rng.chance(0.08)) return [`${p.name}:missing`, rng.pick(['true', 'false'])];
  switch (p.type) {
    case 'token': {
      const mod = rng.chance(0.2) ? ':not' : '';
      return [p.name + mod, rng.chance(0.2) ? `${tokenValue(rng, p, n)},${tokenValue(rng, p, n + 1)}` : tokenValue(rng, p, n)];
    }
    case 'string':
      return [p.name + rng.pick(['', '', ':exact', ':contains']), stringValue(rng, p)];
    case 'date':
      return [p.name, rng.pick(DATE_PREFIXES) + rng.pick(DATES)];
    case 'reference': {
      // A type modifier, and a chain (which the server does not serve: it must refuse, not leak).
      if (rng.chance(0.1) && p.targets?.length) return [`${p.name}:${rng.pick(p.targets)}`, idOf(p.targets[0])];
      if (rng.chance(0.08)) return [`${p.name}.${rng.pick(['name', '_id', 'identifier'])}`, rng.chance(0.5) ? idOf('Patient') : 'Smith'];
      return [p.name, referenceValue(rng, p, idOf)];
    }
    default:
      return [p.name, 'x'];
  }
}

function includeValue(rng: Rng, type: string, rev: boolean): string | undefined {
  if (!rev) {
    const refs = definitionOf(type)?.search.filter((p) => p.type === 'reference') ?? [];
    if (!refs.length) return undefined;
    const p = rng.pick(refs);
    return rng.chance(0.3) && p.targets?.length ? `${type}:${p.name}:${rng.pick(p.targets)}` : `${type}:${p.name}`;
  }
  const sources = RESOURCE_DEFINITIONS.flatMap((d) => d.search
    .filter((p) => p.type === 'reference' && (!p.targets || p.targets.includes(type)))
    .map((p) => `${d.type}:${p.name}`));
  return sources.length ? rng.pick(sources) : undefined;
}

function sortValue(rng: Rng, type: string): string {
  const sortable = ['_id', '_lastUpdated', ...(definitionOf(type)?.search.filter((p) => p.type === 'string' || p.type === 'date').map((p) => p.name) ?? [])];
  const one = () => (rng.chance(0.5) ? '-' : '') + rng.pick(sortable);
  return rng.chance(0.3) ? `${one()},${one()}` : one();
}

/** A random query string for a search of `type` (criteria, then result controls). */
export function searchQuery(rng: Rng, type: string, idOf: IdPicker): string {
  const def = definitionOf(type);
  const pairs: Array<[string, string]> = [];
  const criteria = rng.int(3);
  for (let i = 0; i < criteria; i++) {
    const which = rng.int((def?.search.length ?? 0) + 2);
    if (which === 0) pairs.push(['_id', Array.from({ length: 1 + rng.int(3) }, () => idOf(type)).join(',')]);
    else if (which === 1) pairs.push(['_lastUpdated', rng.pick(['ge', 'le', 'gt', 'lt']) + rng.pick(['2020-01-01', '2030-01-01', new Date().toISOString().slice(0, 10)])]);
    else pairs.push(criterion(rng, def!.search[which - 2], idOf));
  }
  if (rng.chance(0.6)) pairs.push(['_count', String(rng.pick([0, 1, 2, 3, 5, 10, 50]))]);
  if (rng.chance(0.3)) pairs.push(['_sort', sortValue(rng, type)]);
  if (rng.chance(0.35)) { const v = includeValue(rng, type, false); if (v) pairs.push(['_include', v]); }
  if (rng.chance(0.35)) { const v = includeValue(rng, type, true); if (v) pairs.push(['_revinclude', v]); }
  if (rng.chance(0.03)) pairs.push(['_include', '*']);
  if (rng.chance(0.2)) pairs.push(['_total', rng.pick(['accurate', 'estimate', 'none'])]);
  if (rng.chance(0.15)) pairs.push(['_elements', rng.pick(['id', 'identifier', 'subject,status', 'name,generalPractitioner', 'participant', 'content'])]);
  if (rng.chance(0.05)) pairs.push(['_summary', rng.pick(['count', 'false'])]);
  return pairs.map(([k, v]) => `${encodeURIComponent(k).replace(/%3A/g, ':')}=${encodeURIComponent(v)}`).join('&');
}
