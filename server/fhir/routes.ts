import type { FhirInteraction } from '../auth/authorize';
import { methodNotAllowed, notFound } from '../http/errors';
import { conditionalDelete, conditionalUpdate } from './handlers/conditional';
import { everything } from './handlers/everything';
import { history } from './handlers/history';
import { read, vread } from './handlers/instance';
import { patch } from './handlers/patch';
import { search } from './handlers/search';
import { create, remove, update } from './handlers/write';
import type { Handler } from './interaction';
import type { FhirMethod } from './request';
import { definitionOf } from './resources';
import type { ResourceDefinition } from './resources/types';

export interface FhirRoute {
  method: FhirMethod;
  /** Express-style path below the FHIR base: literal segments and `:type`, `:id`, `:vid`. */
  path: string;
  interaction: FhirInteraction;
  handler: Handler;
  /** An operation (`$everything`): always the full path, never a one-trip shortcut of its interaction. */
  operation?: true;
}

/**
 * The type-level REST surface, in match order (literal `$everything`/`_history`/`_search` before `:id`). One
 * table serves both the Express router and the entries of batch/transaction Bundles.
 */
export const FHIR_ROUTES: readonly FhirRoute[] = [
  { method: 'GET', path: '/:type/$everything', interaction: 'read', handler: everything, operation: true },
  { method: 'GET', path: '/:type/:id/$everything', interaction: 'read', handler: everything, operation: true },
  { method: 'GET', path: '/:type/_history', interaction: 'history-type', handler: history },
  { method: 'POST', path: '/:type/_search', interaction: 'search', handler: search },
  { method: 'GET', path: '/:type/:id/_history/:vid', interaction: 'vread', handler: vread },
  { method: 'GET', path: '/:type/:id/_history', interaction: 'history-instance', handler: history },
  { method: 'GET', path: '/:type/:id', interaction: 'read', handler: read },
  { method: 'PUT', path: '/:type/:id', interaction: 'update', handler: update },
  { method: 'PATCH', path: '/:type/:id', interaction: 'patch', handler: patch },
  { method: 'DELETE', path: '/:type/:id', interaction: 'delete', handler: remove },
  { method: 'GET', path: '/:type', interaction: 'search', handler: search },
  { method: 'POST', path: '/:type', interaction: 'create', handler: create },
  { method: 'PUT', path: '/:type', interaction: 'update', handler: conditionalUpdate },
  { method: 'DELETE', path: '/:type', interaction: 'delete', handler: conditionalDelete },
];

export interface MatchedRoute { route: FhirRoute; params: { type?: string; id?: string; vid?: string } }

/** Express-style path parameters of `path` for decoded `segments`, or undefined when it does not match. */
function matchPath(path: string, segments: readonly string[]): Record<string, string> | undefined {
  const pattern = path.split('/').slice(1);
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  const ok = pattern.every((p, i) => {
    // No type or id starts with `$`: such a segment names an operation, never a parameter.
    if (p.startsWith(':')) { params[p.slice(1)] = segments[i]; return segments[i] !== '' && !segments[i].startsWith('$'); }
    return p === segments[i];
  });
  return ok ? params : undefined;
}

/** The route a method and decoded path segments (`['Patient', '123']`) select, as Express would. */
export function matchRoute(method: FhirMethod, segments: readonly string[]): MatchedRoute | undefined {
  if (segments.some((s) => s.includes('\0'))) return undefined; // no id or type holds a NUL (PostgreSQL cannot store one)
  for (const route of FHIR_ROUTES) {
    if (route.method !== method) continue;
    const params = matchPath(route.path, segments);
    if (params) return { route, params };
  }
  return undefined;
}

/**
 * Everything served beside the type-level table by its own router (operations, system history,
 * Bulk Data): the edge checks (hostile-input.ts) let exactly these through. `:x` is one segment
 * that does not start with `$`.
 */
export const OWN_ROUTES: ReadonlyArray<{ method: FhirMethod; path: string }> = [
  { method: 'GET', path: '/_history' },
  { method: 'POST', path: '/:type/$validate' },
  { method: 'POST', path: '/:type/:id/$validate' },
  // The audit seal (fhir/audit-operations.ts).
  { method: 'POST', path: '/AuditEvent/$verify' },
  { method: 'GET', path: '/AuditEvent/$verify' },
  { method: 'GET', path: '/AuditEvent/$checkpoint' },
  // Bulk Data (fhir/bulk/routes.ts).
  { method: 'GET', path: '/$export' },
  { method: 'GET', path: '/Patient/$export' },
  { method: 'GET', path: '/$export-status/:job' },
  { method: 'DELETE', path: '/$export-status/:job' },
  { method: 'GET', path: '/$export-file/:job/:file' },
  // Care relationships and break-glass (care/routes.ts), the access report (fhir/router.ts).
  ...['$assign', '$unassign', '$share', '$break-glass', '$break-glass-revoke', '$break-glass-review']
    .map((op) => ({ method: 'POST' as const, path: `/Patient/:id/${op}` })),
  { method: 'GET', path: '/Patient/:id/$break-glass' },
  { method: 'GET', path: '/Patient/:id/$access-report' },
  { method: 'POST', path: '/$set-access-policy' },
];

export function matchOwnRoute(method: FhirMethod, segments: readonly string[]): boolean {
  return OWN_ROUTES.some((r) => r.method === method && matchPath(r.path, segments) !== undefined);
}

/** The definition serving `type` for `interaction`, or the 404/405 a client gets for asking. */
export function definitionFor(type: string | undefined, interaction: FhirInteraction): ResourceDefinition {
  const def = type === undefined ? undefined : definitionOf(type);
  if (!def) throw notFound(`Resource type ${String(type).slice(0, 64)} is not supported by this server`);
  if (!def.interactions.includes(interaction)) {
    throw methodNotAllowed(def.serverWritten
      ? `${def.type} is written by the server itself: ${interaction} is not allowed`
      : `${interaction} is not supported on ${def.type}`);
  }
  return def;
}
