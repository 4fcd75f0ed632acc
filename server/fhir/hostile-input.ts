import type { NextFunction, Request, Response } from 'express';
import { isFhirMethod, parseQuery, type FhirMethod } from './request';
import { definitionFor, FHIR_ROUTES, matchOwnRoute, matchRoute } from './routes';
import { badRequest, methodNotAllowed, notFound, OperationOutcomeError, unsupportedMediaType, refusedAtEdge } from '../http/errors';

/**
 * Edge checks of every request under /fhir, run after authentication and before any router: what
 * would otherwise reach PostgreSQL or a recursive validator as a 500 is refused here as a 4xx.
 * Each refusal is marked so the one error handler audits it (exactly once). See README, "Hostile input".
 */

/** Deepest nesting of objects and arrays a JSON body may have (real FHIR resources stay under 30). */
export const MAX_JSON_DEPTH = 64;

/** Content codings the body parser decodes; anything else is refused before a byte is read. */
const DECODED_ENCODINGS = new Set(['identity', 'gzip', 'deflate', 'br']);

/** Paths served by the document router rather than the FHIR route table. */
const DOCUMENT_ROUTES: ReadonlyArray<{ method: FhirMethod; segments: number }> = [
  { method: 'POST', segments: 1 }, { method: 'GET', segments: 2 },
];

const edge = refusedAtEdge;

/** Path, query string, headers, Content-Encoding and the route itself: refused before routing. */
export function refuseHostileRequest(req: Request, _res: Response, next: NextFunction): void {
  try {
    checkHeaders(req);
    const url = req.originalUrl;
    const q = url.indexOf('?');
    if (q >= 0) parseQuery(url.slice(q + 1));
    const ifNoneExist = req.headers['if-none-exist'];
    if (typeof ifNoneExist === 'string') parseQuery(ifNoneExist.includes('?') ? ifNoneExist.slice(ifNoneExist.indexOf('?') + 1) : ifNoneExist);
    const segments = pathSegments(req.path);
    checkRoute(req.method, segments);
    checkEncoding(req, segments);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return next(edge(err));
    return next(err);
  }
  next();
}

/** The text body (after the body parser): no NUL character, no nesting deeper than MAX_JSON_DEPTH. */
export function refuseHostileBody(req: Request, _res: Response, next: NextFunction): void {
  const problem = typeof req.body === 'string' ? jsonTextProblem(req.body) : undefined;
  next(problem ? edge(badRequest(`The request body ${problem}`)) : undefined);
}

function checkHeaders(req: Request): void {
  // Node's parser already rejects a raw NUL in a header; kept so the guarantee does not rest on it.
  for (const v of Object.values(req.headers)) {
    if ((Array.isArray(v) ? v.join('') : v ?? '').includes('\0')) throw badRequest('A request header holds a NUL character');
  }
}

/** The decoded segments below /fhir (`/Patient/1/` gives `['Patient', '1']`). */
export function pathSegments(path: string): string[] {
  const parts = path.replace(/^\//, '').split('/');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // Express routes `/Patient/` as `/Patient`
  return parts.map((p) => {
    let s: string;
    try {
      s = decodeURIComponent(p);
    } catch {
      throw badRequest('The path has a malformed percent-encoding');
    }
    if (s.includes('\0')) throw badRequest('The path holds a NUL character');
    return s;
  });
}

/** 404 for a path no route serves, 405 (with Allow) for a method the path does not take. */
function checkRoute(method: string, segments: string[]): void {
  const root = segments.length === 1 && segments[0] === '';
  const byDocuments = (fm: FhirMethod) => segments[0] === 'Binary' && DOCUMENT_ROUTES.some((r) => r.method === fm && r.segments === segments.length);
  const byOperation = (fm: FhirMethod) => matchOwnRoute(fm, segments);
  const served = (fm: FhirMethod) => (root ? fm === 'POST' : byDocuments(fm) || byOperation(fm) || matchRoute(fm, segments) !== undefined);
  const m = method === 'HEAD' ? 'GET' : method;
  if (isFhirMethod(m) && served(m)) {
    const matched = root || byDocuments(m) || byOperation(m) ? undefined : matchRoute(m, segments);
    if (matched) definitionFor(matched.params.type, matched.route.interaction); // unknown type 404, interaction 405
    return;
  }
  const allowed = [...new Set(FHIR_ROUTES.map((r) => r.method))].filter(served);
  if (!allowed.length) throw notFound('No such endpoint');
  const e = methodNotAllowed(`${method.slice(0, 16)} is not allowed here (allowed: ${allowed.join(', ')})`);
  throw new OperationOutcomeError(e.status, e.issues, { Allow: allowed.join(', ') });
}

function checkEncoding(req: Request, segments: string[]): void {
  const raw = req.headers['content-encoding'];
  if (raw === undefined) return;
  const coding = raw.trim().toLowerCase();
  // Document bytes are stored as sent: a compressed upload would be served back as something else.
  const upload = segments[0] === 'Binary' && req.method === 'POST';
  if (upload ? coding !== 'identity' : !DECODED_ENCODINGS.has(coding)) {
    throw unsupportedMediaType(`Content-Encoding ${raw.slice(0, 40)} is not supported here (${upload ? 'identity' : [...DECODED_ENCODINGS].join(', ')})`);
  }
}

/**
 * What makes a JSON text unacceptable before it is parsed: a NUL (raw or as `\u0000`, which
 * PostgreSQL cannot store), a lone surrogate escape, or nesting deeper than `maxDepth`. One pass,
 * no recursion: brackets are counted outside strings; string contents are skipped by indexOf.
 */
export function jsonTextProblem(text: string, maxDepth = MAX_JSON_DEPTH): string | undefined {
  if (text.includes('\0')) return 'holds a NUL character';
  let depth = 0;
  let backslash = -2; // the next backslash at or after the cursor; -2 not yet looked for, -1 none left
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      let quote = -1;
      for (;;) {
        if (quote < i) quote = text.indexOf('"', i); // looked for again only once passed: linear however many escapes
        if (quote < 0) return undefined; // unterminated: JSON.parse says so
        if (backslash !== -1 && backslash < i) backslash = text.indexOf('\\', i);
        if (backslash === -1 || backslash > quote) { i = quote; break; }
        const escape = escapeAt(text, backslash);
        if (typeof escape === 'string') return escape;
        i = backslash + escape;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return `is nested deeper than ${maxDepth} levels`;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}

/** The length of the escape at `at`, or what is wrong with it. */
function escapeAt(text: string, at: number): number | string {
  if (text.charCodeAt(at + 1) !== 0x75) return 2;
  const unit = hex4(text, at + 2);
  if (unit === 0) return 'holds a NUL character (\\u0000)';
  if (unit >= 0xdc00 && unit <= 0xdfff) return 'holds an unpaired surrogate escape';
  if (unit < 0xd800 || unit > 0xdbff) return 6;
  const low = text.charCodeAt(at + 6) === 0x5c && text.charCodeAt(at + 7) === 0x75 ? hex4(text, at + 8) : -1;
  return low >= 0xdc00 && low <= 0xdfff ? 12 : 'holds an unpaired surrogate escape';
}

/** The value of four hex digits at `at`, or -1 (JSON.parse reports the malformed escape). */
function hex4(text: string, at: number): number {
  const s = text.slice(at, at + 4);
  return /^[0-9a-fA-F]{4}$/.test(s) ? parseInt(s, 16) : -1;
}
