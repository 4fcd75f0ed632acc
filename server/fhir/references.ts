import type { Knex } from 'knex';
import type { OperationOutcomeIssue } from 'fhir/r4';
import { OperationOutcomeError } from '../http/errors';
import { isUuid } from '../http/ids';
import { definitionOf } from './resources';
import type { ResourceDefinition } from './resources/types';

/** A literal reference to a resource type this server serves, and the element that holds it. */
export interface LocalReference {
  path: string;
  type: string;
  id: string;
}

const TYPE_AND_ID = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

type Parsed = { kind: 'local'; type: string; id: string } | { kind: 'unresolvable'; type: string } | { kind: 'other' };

/** References to a type we serve must name a row here, unless its definition says otherwise. */
const checked = (type: string): boolean => { const d = definitionOf(type); return !!d && !d.referencesUnchecked; };

/** What a Reference.reference string points at, seen from a server whose base is `fhirBase`. */
function parseReference(ref: string, fhirBase?: string): Parsed {
  const relative = fhirBase && ref.startsWith(`${fhirBase}/`) ? ref.slice(fhirBase.length + 1) : ref;
  // `#x` is a contained resource, `urn:` is resolved by a transaction, other absolute URLs are external.
  if (relative.startsWith('#') || ABSOLUTE.test(relative)) return { kind: 'other' };
  const m = TYPE_AND_ID.exec(relative);
  if (m) return checked(m[1]) ? { kind: 'local', type: m[1], id: m[2] } : { kind: 'other' };
  // `Patient?identifier=x` or `Patient/bad id`: aimed at a type we serve, but names no row we could hold.
  const type = /^([A-Z][A-Za-z]+)[/?]/.exec(relative)?.[1];
  return type && checked(type) ? { kind: 'unresolvable', type } : { kind: 'other' };
}

/** Walks a resource (contained resources and extensions too) for `reference` strings. */
function walk(node: unknown, path: string, visit: (ref: string, path: string) => void): void {
  if (Array.isArray(node)) {
    node.forEach((item, i) => walk(item, `${path}[${i}]`, visit));
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (key === 'reference' && typeof value === 'string') visit(value, path);
    else if (typeof value === 'object') walk(value, `${path}.${key}`, visit);
  }
}

const issue = (path: string, diagnostics: string): OperationOutcomeIssue => ({ severity: 'error', code: 'processing', diagnostics, expression: [path] });

/**
 * Every local reference of `resource`, and the issues of those that cannot name a row here. A
 * Patient on a compartment path must be local: the patient compartment (and so RLS) hangs on it.
 */
export function localReferences(def: ResourceDefinition, resource: { resourceType: string }, fhirBase?: string): { refs: LocalReference[]; issues: OperationOutcomeIssue[] } {
  const compartmentPaths = new Set(def.compartment !== 'self' && 'paths' in def.compartment ? def.compartment.paths.map((p) => `${def.type}.${p}`) : []);
  const refs: LocalReference[] = [];
  const issues: OperationOutcomeIssue[] = [];
  walk(resource, resource.resourceType, (ref, path) => {
    const p = parseReference(ref, fhirBase);
    if (p.kind === 'local') refs.push({ path, type: p.type, id: p.id });
    else if (p.kind === 'unresolvable') issues.push(issue(path, `${path}: the reference to a ${p.type} does not resolve on this server`));
    else if (compartmentPaths.has(path.replace(/\[\d+\]/g, '')) && /(^|\/)Patient\/[^/]+(\/_history\/[^/]+)?$/.test(ref)) {
      issues.push(issue(path, `${path}: the patient must be one held by this server (Patient/id), not an external URL`));
    }
  });
  return { refs, issues };
}

/**
 * Refuses (422) a resource whose local references do not each name an existing, not deleted row.
 * The lookup runs in the caller's RLS transaction, so a row of another clinic (or, under a
 * patient/ token, of another patient) is indistinguishable from one that does not exist.
 */
export async function assertReferencesResolve(
  trx: Knex.Transaction, def: ResourceDefinition, resource: { resourceType: string }, fhirBase?: string,
): Promise<void> {
  const { refs, issues } = localReferences(def, resource, fhirBase);
  const byType = new Map<string, Set<string>>();
  for (const r of refs) if (isUuid(r.id)) byType.set(r.type, (byType.get(r.type) ?? new Set()).add(r.id.toLowerCase()));
  const found = new Set<string>();
  for (const [type, ids] of byType) {
    const table = definitionOf(type)?.table;
    if (!table) continue;
    const rows = await trx(table).select(trx.raw('id::text as id')).whereRaw('id = any(?::uuid[])', [[...ids]]).andWhere('deleted', false) as Array<{ id: string }>;
    for (const row of rows) found.add(`${type}/${row.id}`);
  }
  for (const r of refs) {
    if (!found.has(`${r.type}/${r.id.toLowerCase()}`)) {
      issues.push(issue(r.path, `${r.path}: ${r.type}/${r.id.slice(0, 64)} is not known in this clinic`));
    }
  }
  if (issues.length) throw new OperationOutcomeError(422, issues);
}
