/**
 * SMART on FHIR scope grammar (App Launch v1 and v2). Parsing is strict on purpose: a scope we do not
 * understand exactly grants nothing, so it never turns into a wider grant than the client asked for.
 */

export type SmartContext = 'patient' | 'user' | 'system';
export type SmartVerb = 'c' | 'r' | 'u' | 'd' | 's';

export interface ParsedScope {
  raw: string;
  context: SmartContext;
  /** A FHIR resource type name, or '*' for every type. */
  resourceType: string;
  verbs: ReadonlySet<SmartVerb>;
  version: 1 | 2;
  /** v2 granular constraints, e.g. `?category=laboratory&status=final` (all must hold). */
  params?: Readonly<Record<string, string>>;
}

// A scope string far past any real one is refused rather than parsed (cheap DoS guard).
const MAX_SCOPE_LENGTH = 1024;

// context / type . permissions — v1 permissions are words, v2 are ordered letters `c?r?u?d?s?`.
const RESOURCE_SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{1,63})\.(read|write|\*|c?r?u?d?s?)$/;

// A search parameter name, optionally with a modifier (`code:in`) or chain (`subject.name`).
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

const V1_VERBS: Readonly<Record<string, readonly SmartVerb[]>> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ['c', 'r', 'u', 'd', 's'],
};

/** Parses one resource scope; null when it is malformed or not a resource scope (openid, launch, ...). */
export function parseScope(raw: string): ParsedScope | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_SCOPE_LENGTH) return null;
  if (/\s/.test(raw)) return null;

  const q = raw.indexOf('?');
  const head = q === -1 ? raw : raw.slice(0, q);
  const match = RESOURCE_SCOPE.exec(head);
  if (!match) return null;
  const [, context, resourceType, permissions] = match as unknown as [string, SmartContext, string, string];
  if (permissions === '') return null;

  const v1 = Object.prototype.hasOwnProperty.call(V1_VERBS, permissions) ? V1_VERBS[permissions] : undefined;
  const version: 1 | 2 = v1 ? 1 : 2;
  const verbs = new Set<SmartVerb>(v1 ?? (permissions.split('') as SmartVerb[]));

  const scope: ParsedScope = { raw, context, resourceType, verbs, version };
  if (q === -1) return scope;

  // Granular constraints exist only in v2; on a v1 scope they would be silently ignored by others.
  if (version !== 2) return null;
  const params = parseQuery(raw.slice(q + 1));
  if (!params) return null;
  return { ...scope, params };
}

/** `k=v&k2=v2` with decoded values; null on anything ambiguous (empty parts, repeats, bad escapes). */
function parseQuery(query: string): Readonly<Record<string, string>> | null {
  if (query === '') return null;
  const entries: [string, string][] = [];
  const seen = new Set<string>();
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    const key = part.slice(0, eq);
    const encoded = part.slice(eq + 1);
    // A raw '=' or '?' in a value means the client meant something we cannot be sure of.
    if (encoded === '' || encoded.includes('=') || encoded.includes('?')) return null;
    if (!PARAM_NAME.test(key) || seen.has(key)) return null;
    let value: string;
    try {
      value = decodeURIComponent(encoded);
    } catch {
      return null;
    }
    seen.add(key);
    entries.push([key, value]);
  }
  // fromEntries defines own properties, so a key like `__proto__` cannot reach the prototype.
  return Object.freeze(Object.fromEntries(entries));
}

/**
 * Splits a token's scope claim (space-separated string, or an array as some IdPs send `scp`) into
 * resource scopes and everything else. Malformed resource-looking scopes land in `other`.
 */
export function parseScopes(claim: string | string[] | undefined): { resource: ParsedScope[]; other: string[] } {
  const resource: ParsedScope[] = [];
  const other: string[] = [];
  const tokens: unknown[] = typeof claim === 'string' ? claim.split(' ').filter((t) => t !== '') : Array.isArray(claim) ? claim : [];
  for (const token of tokens) {
    // Claims come from a decoded JWT: a non-string element is ignored, never coerced.
    if (typeof token !== 'string' || token === '') continue;
    const parsed = parseScope(token);
    if (parsed) resource.push(parsed);
    else other.push(token);
  }
  return { resource, other };
}
