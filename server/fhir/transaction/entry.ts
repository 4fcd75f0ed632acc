import type { FhirInteraction } from '../../auth/authorize';
import { badRequest } from '../../http/errors';
import type { Handler } from '../interaction';
import { type FhirRequest, parseQuery } from '../request';
import type { ResourceDefinition } from '../resources/types';
import { definitionFor, matchRoute } from '../routes';
import type { BundleEntryRequest, JsonObject } from './parse';

/** An entry resolved to the interaction it asks for, exactly as the same URL over HTTP would be. */
export interface ResolvedEntry {
  entry: BundleEntryRequest;
  def: ResourceDefinition;
  interaction: FhirInteraction;
  handler: Handler;
  params: FhirRequest['params'];
  query: Array<[string, string]>;
}

/** Resolves `request.method` + `request.url` through the shared route table; 400/404/405 as over HTTP. */
export function resolveEntry(entry: BundleEntryRequest, fhirBase: string): ResolvedEntry {
  const where = `Bundle.entry[${entry.index}].request.url`;
  let url = entry.url.startsWith(`${fhirBase}/`) ? entry.url.slice(fhirBase.length + 1) : entry.url;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(url)) throw badRequest(`${where} must be relative to this server's base`, [where]);
  url = url.replace(/^\/+/, '');
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  let segments: string[];
  try {
    segments = path.split('/').map(decodeURIComponent);
  } catch {
    throw badRequest(`${where} is not a valid URL`, [where]);
  }
  const matched = matchRoute(entry.method, segments);
  if (!matched) throw badRequest(`${where}: ${entry.method} ${path.slice(0, 80)} is not an interaction this server supports`, [where]);
  const def = definitionFor(matched.params.type, matched.route.interaction);
  if (entry.resource && matched.route.interaction !== 'patch' && entry.resource.resourceType !== def.type && (entry.method === 'POST' || entry.method === 'PUT')) {
    throw badRequest(`Bundle.entry[${entry.index}].resource is a ${String(entry.resource.resourceType).slice(0, 40)}, but the request is for ${def.type}`, [`Bundle.entry[${entry.index}].resource`]);
  }
  return { entry, def, interaction: matched.route.interaction, handler: matched.route.handler, params: matched.params, query: q >= 0 ? parseQuery(url.slice(q + 1)) : [] };
}

/** A PATCH entry carries its JSON Patch as a Binary (FHIR's way to put a non-resource body in a Bundle). */
function patchBody(entry: BundleEntryRequest): string {
  const r = entry.resource as JsonObject;
  const where = `Bundle.entry[${entry.index}].resource`;
  if (r.resourceType !== 'Binary' || typeof r.contentType !== 'string' || !/^application\/json-patch\+json/i.test(r.contentType)) {
    throw badRequest(`${where}: a PATCH entry takes a Binary with contentType application/json-patch+json (FHIRPath Patch is not supported)`, [where]);
  }
  if (typeof r.data !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(r.data)) throw badRequest(`${where}.data must be the base64 of a JSON Patch`, [`${where}.data`]);
  return Buffer.from(r.data, 'base64').toString('utf8');
}

/** The FhirRequest an entry amounts to; `resource` is the entry's resource after urn:uuid references are resolved. */
export function entryRequest(r: ResolvedEntry, resource: JsonObject | undefined, outer: FhirRequest): FhirRequest {
  const e = r.entry;
  const headers: Record<string, string | undefined> = {
    // The Bundle's Prefer (return=..., handling=...) applies to each of its entries.
    prefer: outer.headers.prefer,
    'if-match': e.ifMatch,
    'if-none-match': e.ifNoneMatch,
    'if-none-exist': e.ifNoneExist,
  };
  let body = '';
  if (r.interaction === 'patch') {
    body = patchBody(e);
    headers['content-type'] = 'application/json-patch+json';
  } else if (resource && (e.method === 'POST' || e.method === 'PUT') && r.interaction !== 'search') {
    body = JSON.stringify(resource);
    headers['content-type'] = 'application/fhir+json';
  }
  return { method: e.method, params: r.params, query: r.query, headers, body };
}
