import { badRequest, forbidden } from '../../http/errors';
import type { ClinicScope } from '../interaction';
import { RESOURCE_DEFINITIONS, definitionOf } from '../resources';
import type { ResourceDefinition, SearchParamDef } from '../resources/types';
import type { Criterion } from './criterion';

// Chained search (`patient.family=x`) and reverse chaining (`_has:Appointment:patient:status=booked`),
// one level: what they mean and who may use them. compile.ts turns them into subqueries.

/** Resolves a plain parameter of a type (parse.ts): undefined when the type has no such parameter. */
type Resolve = (def: ResourceDefinition, name: string, modifier: string | undefined, values: string[]) => Criterion | undefined;

/**
 * The served types a reference parameter may be chained into: only the ones it declares (a
 * parameter naming no target, like AuditEvent.entity, could point anywhere and is not chained).
 */
export function chainTargets(p: SearchParamDef): ResourceDefinition[] {
  if (p.type !== 'reference' || !p.targets) return [];
  return p.targets.map((t) => definitionOf(t)).filter((d): d is ResourceDefinition => !!d);
}

/** The names a reference parameter may be chained with (`family`, `identifier`, ...), over all its served targets. */
export function chainNames(p: SearchParamDef): string[] {
  const names = new Set<string>();
  for (const t of chainTargets(p)) for (const s of t.search) names.add(s.name);
  if (names.size) { names.add('_id'); names.add('_lastUpdated'); }
  return [...names].sort();
}

/** `_has` values a search of `def` supports: `Source:param` for every reference parameter chained into it. */
export function hasSources(def: ResourceDefinition): string[] {
  return RESOURCE_DEFINITIONS.flatMap((src) => src.search
    .filter((p) => chainTargets(p).some((t) => t.type === def.type))
    .map((p) => `${src.type}:${p.name}`));
}

export const isLinkKey = (key: string) => key.startsWith('_has:') || key === '_has' || key.includes('.');

/** A chained or `_has` query key as a criterion; `unsupported` when this server cannot answer it (a 400 unless lenient). */
export function parseLink(def: ResourceDefinition, key: string, values: string[], resolve: Resolve): { criterion: Criterion } | { unsupported: string } {
  const shown = key.slice(0, 80);
  return key.startsWith('_has') ? parseHas(def, key, shown, values, resolve) : parseChain(def, key, shown, values, resolve);
}

function parseChain(def: ResourceDefinition, key: string, shown: string, values: string[], resolve: Resolve): { criterion: Criterion } | { unsupported: string } {
  const dot = key.indexOf('.');
  const [name, type, ...extra] = key.slice(0, dot).split(':');
  const tail = key.slice(dot + 1);
  if (tail.includes('.') || tail.startsWith('_has')) throw badRequest(`Search parameter ${shown} chains more than one level: only one is supported`);
  if (extra.length) throw badRequest(`Search parameter ${shown}: ${name.slice(0, 60)} takes one type modifier at most`);
  const param = def.search.find((p) => p.name === name);
  if (!param) return { unsupported: `Unknown search parameter ${name.slice(0, 60)} for ${def.type} in the chain ${shown}` };
  if (param.type !== 'reference') throw badRequest(`Search parameter ${shown}: ${name} is a ${param.type} parameter, and only reference parameters can be chained`);
  const served = chainTargets(param);
  if (type && !served.some((t) => t.type === type)) {
    return { unsupported: `Search parameter ${shown}: ${def.type}.${name} cannot be chained into ${type.slice(0, 40)} (it is chained into ${served.map((t) => t.type).join(', ') || 'no type this server serves'})` };
  }
  const [innerName, innerModifier, ...more] = tail.split(':');
  if (more.length) throw badRequest(`Search parameter ${shown} has more than one modifier`);
  const targets = served
    .filter((t) => !type || t.type === type)
    .flatMap((t) => {
      const criterion = resolve(t, innerName, innerModifier, values);
      return criterion ? [{ def: t, criterion }] : [];
    });
  if (!targets.length) {
    return { unsupported: `Search parameter ${shown}: ${innerName.slice(0, 60)} is not a search parameter of ${type ?? (served.map((t) => t.type).join(' or ') || `what ${name} points at`)}` };
  }
  return { criterion: { param, values, link: { kind: 'chain', targets } } };
}

function parseHas(def: ResourceDefinition, key: string, shown: string, values: string[], resolve: Resolve): { criterion: Criterion } | { unsupported: string } {
  const [, type, refName, innerName, innerModifier, ...more] = key.split(':');
  if (!type || !refName || !innerName) throw badRequest(`Search parameter ${shown} must read _has:Type:reference:parameter`);
  if (innerName === '_has' || innerName.includes('.')) throw badRequest(`Search parameter ${shown} chains more than one level: only one is supported`);
  if (more.length) throw badRequest(`Search parameter ${shown} has more than one modifier`);
  const source = definitionOf(type);
  if (!source) return { unsupported: `Search parameter ${shown}: ${type.slice(0, 40)} is not a type this server serves` };
  const ref = source.search.find((p) => p.name === refName);
  if (!ref) return { unsupported: `Search parameter ${shown}: ${refName.slice(0, 60)} is not a search parameter of ${source.type}` };
  if (ref.type !== 'reference') throw badRequest(`Search parameter ${shown}: ${source.type}.${refName} is a ${ref.type} parameter, and only reference parameters can be chained`);
  if (!chainTargets(ref).some((t) => t.type === def.type)) return { unsupported: `Search parameter ${shown}: ${source.type}.${refName} does not point at ${def.type}` };
  const criterion = resolve(source, innerName, innerModifier, values);
  if (!criterion) return { unsupported: `Search parameter ${shown}: ${innerName.slice(0, 60)} is not a search parameter of ${source.type}` };
  return { criterion: { param: { name: '_has', type: 'token' }, values, link: { kind: 'has', source, ref, criterion } } };
}

/** The types whose rows the criteria read through chains and `_has`. */
export function linkedTypes(criteria: readonly Criterion[]): string[] {
  const types = criteria.flatMap((c) => !c.link ? [] : c.link.kind === 'has' ? [c.link.source.type] : c.link.targets.map((t) => t.def.type));
  return [...new Set(types)];
}

/**
 * A chain reads the rows of the type it joins to: the caller must be allowed to search that type
 * (else 403, audited by the pipeline), and RLS on that type's table decides which of its rows count.
 */
export function requireLinkedTypes(scope: Pick<ClinicScope, 'require' | 'compartmentPatientId'>, criteria: readonly Criterion[]): void {
  for (const type of linkedTypes(criteria)) {
    const decision = scope.require(type, 'search');
    if (decision.constraints) throw forbidden(`Access denied: a chain into ${type} is not honoured under a granular scope on ${type}`);
    // RLS confines this transaction to one compartment; a chain needing another cannot run in it.
    if (decision.compartmentPatientId && decision.compartmentPatientId !== scope.compartmentPatientId) {
      throw forbidden(`Access denied: ${type} is granted only for a patient this search does not run for`);
    }
  }
}
