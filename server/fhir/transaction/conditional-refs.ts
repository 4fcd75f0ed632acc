import { badRequest, preconditionFailed } from '../../http/errors';
import { matchCriteria } from '../handlers/criteria';
import { callerFacts, type ClinicScope, type InteractionContext, permits } from '../interaction';
import { Repository } from '../repository';
import { parseQuery } from '../request';
import { definitionOf } from '../resources';
import type { JsonObject } from './parse';

const CONDITIONAL = /^([A-Z][A-Za-z]{0,63})\?(.+)$/;

/** Every conditional reference (`Patient?identifier=s|v`) of a resource. */
export function conditionalReferences(resource: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(walk); return; }
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as JsonObject)) {
      if (k === 'reference' && typeof v === 'string' && CONDITIONAL.test(v)) out.push(v);
      else if (typeof v === 'object') walk(v);
    }
  };
  walk(resource);
  return out;
}

/**
 * The one resource a conditional reference selects, searched in the caller's RLS transaction with
 * the caller's search permission (audited as that search): none or several is a 412.
 */
async function resolveOne(scope: ClinicScope, reference: string): Promise<string> {
  const [, type, qs] = CONDITIONAL.exec(reference) as RegExpExecArray;
  const def = definitionOf(type);
  if (!def || !def.interactions.includes('search')) throw badRequest(`The conditional reference ${reference.slice(0, 80)} names a type this server does not search`);
  const query = parseQuery(qs);
  const repo = new Repository(def, scope.trx, { fhirBase: scope.deps.cfg.fhirBaseUrl, sql: scope.sql });
  const ctx: InteractionContext = {
    ...scope, def, repo, decision: permits(scope, def.type, 'search'),
    req: { method: 'GET', params: { type }, query, headers: {}, body: '' },
  };
  const found = await matchCriteria(ctx, query, 'reference', { serialize: false });
  scope.audit({ ...callerFacts(scope.access, 'search-type', 'E'), resourceType: def.type, query: qs, patientIds: found.map((f) => f.patientId).filter((p): p is string => !!p) });
  if (found.length === 0) throw preconditionFailed(`The conditional reference ${reference.slice(0, 80)} matches no ${def.type}`);
  if (found.length > 1) throw preconditionFailed(`The conditional reference ${reference.slice(0, 80)} matches more than one ${def.type}`);
  return `${def.type}/${found[0].id}`;
}

/** A copy of `resource` whose conditional references name the resources they select (each searched once per Bundle). */
export async function resolveConditionalReferences(scope: ClinicScope, resource: JsonObject, known: Map<string, string>): Promise<JsonObject> {
  const refs = conditionalReferences(resource);
  if (!refs.length) return resource;
  for (const ref of refs) if (!known.has(ref)) known.set(ref, await resolveOne(scope, ref));
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node as JsonObject)) out[k] = k === 'reference' && typeof v === 'string' && known.has(v) ? known.get(v) : walk(v);
    return out;
  };
  return walk(resource) as JsonObject;
}
