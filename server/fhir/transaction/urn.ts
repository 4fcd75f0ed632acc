import { badRequest } from '../../http/errors';
import type { ResolvedEntry } from './entry';
import type { JsonObject } from './parse';

const URN_UUID = /^urn:uuid:/i;

/** Every `reference` string of a resource that is a `urn:uuid:`, in document order. */
export function urnReferences(resource: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(walk); return; }
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as JsonObject)) {
      if (k === 'reference' && typeof v === 'string' && URN_UUID.test(v)) out.push(v);
      else if (typeof v === 'object') walk(v);
    }
  };
  walk(resource);
  return out;
}

/** A copy of `resource` whose `urn:uuid:` references name the resources the transaction created. */
export function resolveUrns(resource: JsonObject, ids: ReadonlyMap<string, string>): JsonObject {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node as JsonObject)) {
      out[k] = k === 'reference' && typeof v === 'string' && ids.has(v) ? ids.get(v) : walk(v);
    }
    return out;
  };
  return walk(resource) as JsonObject;
}

/** FHIR's transaction processing order: DELETE, then POST, then PUT and PATCH, then GET. */
const PHASE: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3 };
const phaseOf = (r: ResolvedEntry) => PHASE[r.entry.method];

export interface TransactionPlan {
  /** Entries in the order they run. */
  order: ResolvedEntry[];
  /** urn:uuid fullUrls whose target is known before anything runs (`PUT Patient/123`). */
  known: Map<string, string>;
}

/**
 * Orders a transaction so that every `urn:uuid:` reference names an entry that has already run:
 * FHIR's phases, and inside a phase the referenced entries first. A reference to no entry, to an
 * entry of a later phase, or a cycle is a 400 before anything runs.
 */
export function planTransaction(entries: ResolvedEntry[]): TransactionPlan {
  const known = new Map<string, string>();
  const pending = new Map<string, ResolvedEntry>();
  for (const r of entries) {
    if (!r.entry.fullUrl || !URN_UUID.test(r.entry.fullUrl)) continue;
    if (r.params.id) known.set(r.entry.fullUrl, `${r.def.type}/${r.params.id}`);
    else if (r.interaction === 'create' || r.interaction === 'update') pending.set(r.entry.fullUrl, r);
  }
  const dependsOn = new Map<ResolvedEntry, Set<ResolvedEntry>>();
  for (const r of entries) {
    const deps = new Set<ResolvedEntry>();
    const where = `Bundle.entry[${r.entry.index}].resource`;
    for (const ref of r.interaction === 'patch' ? [] : urnReferences(r.entry.resource)) {
      if (known.has(ref)) continue;
      const target = pending.get(ref);
      if (!target) throw badRequest(`${where}: the reference ${ref.slice(0, 60)} names no entry of this transaction that creates or updates a resource`, [where]);
      if (target === r) throw badRequest(`${where}: the reference ${ref.slice(0, 60)} is circular (the entry refers to itself)`, [where]);
      if (phaseOf(target) > phaseOf(r)) {
        throw badRequest(`${where}: ${ref.slice(0, 60)} is created by entry ${target.entry.index} (${target.entry.method}), which runs after this ${r.entry.method} in FHIR transaction order`, [where]);
      }
      if (phaseOf(target) === phaseOf(r)) deps.add(target);
    }
    dependsOn.set(r, deps);
  }
  const order: ResolvedEntry[] = [];
  const done = new Set<ResolvedEntry>();
  for (const phase of [0, 1, 2, 3]) {
    let left = entries.filter((r) => phaseOf(r) === phase);
    while (left.length) {
      // Stable: among the ready entries, Bundle order; none ready means the rest hold a cycle.
      const ready = left.filter((r) => [...(dependsOn.get(r) ?? [])].every((d) => done.has(d)));
      if (!ready.length) {
        const cycle = left.filter((r) => (dependsOn.get(r)?.size ?? 0) > 0).map((r) => r.entry.index);
        throw badRequest(`The urn:uuid references between entries ${cycle.join(', ')} are circular: none of them can be created first`, cycle.map((i) => `Bundle.entry[${i}].resource`));
      }
      order.push(...ready);
      for (const r of ready) done.add(r);
      left = left.filter((r) => !done.has(r));
    }
  }
  return { order, known };
}
