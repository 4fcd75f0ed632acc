import type { Request } from 'express';
import { badRequest } from '../http/errors';

export type FhirMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * What a FHIR handler may know about the request it serves: the same shape whether it came over
 * HTTP or as an entry of a batch/transaction Bundle, so handlers never see Express.
 */
export interface FhirRequest {
  method: FhirMethod;
  /** Path parameters of the matched route (`type`, `id`, `vid`). */
  params: Readonly<{ type?: string; id?: string; vid?: string }>;
  /** Query parameters as ordered pairs, repeats kept. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Header values by lower-case name. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body as text ('' when there is none). */
  body: string;
}

export const FHIR_METHODS: readonly FhirMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export function isFhirMethod(m: unknown): m is FhirMethod {
  return typeof m === 'string' && (FHIR_METHODS as readonly string[]).includes(m);
}

/**
 * Pairs of a query string (with or without its leading `?`), decoded as a form would be. A
 * malformed percent-encoding or a NUL character is the client's mistake: 400, before any SQL.
 */
export function parseQuery(qs: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const part of (qs.startsWith('?') ? qs.slice(1) : qs).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    pairs.push(eq < 0 ? [decodeQueryPart(part), ''] : [decodeQueryPart(part.slice(0, eq)), decodeQueryPart(part.slice(eq + 1))]);
  }
  return pairs;
}

function decodeQueryPart(raw: string): string {
  let s: string;
  try {
    s = decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw badRequest('The query string has a malformed percent-encoding');
  }
  if (s.includes('\0')) throw badRequest('The query string holds a NUL character');
  return s;
}

/** The first value of a query parameter. */
export function queryValue(req: FhirRequest, name: string): string | undefined {
  return req.query.find(([k]) => k === name)?.[1];
}

/** An Express request as a FhirRequest (the body is already text: see app.ts). */
export function fromExpress(req: Request): FhirRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  const url = req.originalUrl;
  const q = url.indexOf('?');
  const params: { type?: string; id?: string; vid?: string } = {};
  for (const key of ['type', 'id', 'vid'] as const) {
    const v = req.params[key];
    if (typeof v === 'string') params[key] = v;
  }
  return {
    method: (isFhirMethod(req.method) ? req.method : 'GET'),
    params,
    query: q >= 0 ? parseQuery(url.slice(q + 1)) : [],
    headers,
    body: typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '',
  };
}
