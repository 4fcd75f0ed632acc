import { badRequest, tooLarge } from '../../http/errors';
import { parseJsonBody } from '../body';
import { type FhirMethod, isFhirMethod } from '../request';

/** Entries a batch or transaction may hold: more is refused before any of them runs. */
export const MAX_BUNDLE_ENTRIES = 1000;

export type JsonObject = Record<string, unknown>;

/** One entry of a posted Bundle, checked for shape but not yet resolved to a route. */
export interface BundleEntryRequest {
  index: number;
  fullUrl?: string;
  method: FhirMethod;
  url: string;
  resource?: JsonObject;
  ifMatch?: string;
  ifNoneMatch?: string;
  ifNoneExist?: string;
}

export interface PostedBundle {
  type: 'batch' | 'transaction';
  entries: BundleEntryRequest[];
}

const isObject = (v: unknown): v is JsonObject => !!v && typeof v === 'object' && !Array.isArray(v);
const optionalString = (o: JsonObject, key: string, where: string): string | undefined => {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw badRequest(`${where}.${key} must be a non-empty string`, [`${where}.${key}`]);
  return v;
};

/**
 * The body of `POST [base]` as a batch or transaction: right content type, a Bundle of one of
 * those two types, at most MAX_BUNDLE_ENTRIES entries, each with a request of a method we serve and
 * no nested Bundle. Any problem refuses the whole Bundle, naming the entry.
 */
export function parsePostedBundle(contentType: string | undefined, text: string): PostedBundle {
  const parsed = parseJsonBody(contentType, text, 'a batch or transaction Bundle');
  if (!isObject(parsed) || parsed.resourceType !== 'Bundle') {
    throw badRequest('POST to the FHIR base takes a Bundle of type batch or transaction', ['Bundle.resourceType']);
  }
  if (parsed.type !== 'batch' && parsed.type !== 'transaction') {
    throw badRequest(`Bundle.type must be batch or transaction (got ${typeof parsed.type === 'string' ? parsed.type.slice(0, 40) : 'none'})`, ['Bundle.type']);
  }
  const raw = parsed.entry ?? [];
  if (!Array.isArray(raw)) throw badRequest('Bundle.entry must be an array', ['Bundle.entry']);
  if (raw.length > MAX_BUNDLE_ENTRIES) {
    throw tooLarge(`The Bundle has ${raw.length} entries; this server takes at most ${MAX_BUNDLE_ENTRIES} per ${parsed.type}`);
  }
  const fullUrls = new Set<string>();
  const entries = raw.map((e, index): BundleEntryRequest => {
    const where = `Bundle.entry[${index}]`;
    if (!isObject(e)) throw badRequest(`${where} must be an object`, [where]);
    const request = e.request;
    if (!isObject(request)) throw badRequest(`${where} has no request: each entry of a ${parsed.type} says what to do (request.method and request.url)`, [`${where}.request`]);
    const method = request.method;
    if (!isFhirMethod(method)) {
      throw badRequest(`${where}.request.method ${typeof method === 'string' ? method.slice(0, 20) : '(missing)'} is not one of GET, POST, PUT, PATCH, DELETE`, [`${where}.request.method`]);
    }
    const url = optionalString(request, 'url', `${where}.request`);
    if (!url) throw badRequest(`${where}.request.url is required`, [`${where}.request.url`]);
    const fullUrl = optionalString(e, 'fullUrl', where);
    if (fullUrl !== undefined) {
      if (fullUrls.has(fullUrl)) throw badRequest(`${where}.fullUrl ${fullUrl.slice(0, 80)} appears twice in the Bundle`, [`${where}.fullUrl`]);
      fullUrls.add(fullUrl);
    }
    const resource = e.resource;
    if (resource !== undefined && !isObject(resource)) throw badRequest(`${where}.resource must be a resource`, [`${where}.resource`]);
    if (resource?.resourceType === 'Bundle') throw badRequest(`${where}.resource is a Bundle: nested Bundles are not supported`, [`${where}.resource`]);
    if ((method === 'POST' || method === 'PUT' || method === 'PATCH') && !resource && !/\/_search(\?|$)/.test(url)) {
      throw badRequest(`${where} is a ${method} without a resource`, [`${where}.resource`]);
    }
    return {
      index, fullUrl, method, url, resource,
      ifMatch: optionalString(request, 'ifMatch', `${where}.request`),
      ifNoneMatch: optionalString(request, 'ifNoneMatch', `${where}.request`),
      ifNoneExist: optionalString(request, 'ifNoneExist', `${where}.request`),
    };
  });
  return { type: parsed.type, entries };
}
