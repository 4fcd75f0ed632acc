import { parseScope, type ParsedScope, type SmartVerb } from '../auth/scopes';

/** Scopes that are not resource scopes: identity, launch context and refresh. */
export const STATIC_SCOPES: readonly string[] = Object.freeze([
  'openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access',
]);
const STATICS = new Set(STATIC_SCOPES);

export const splitScopes = (s: string | undefined): string[] => [...new Set((s ?? '').split(' ').filter((t) => t !== ''))];

/** True when a registered scope allows everything the requested one asks for. */
function covers(registered: ParsedScope, requested: ParsedScope): boolean {
  if (registered.context !== requested.context) return false;
  if (registered.resourceType !== '*' && registered.resourceType !== requested.resourceType) return false;
  for (const v of requested.verbs) if (!registered.verbs.has(v)) return false;
  // A granular registration allows only requests at least as narrow (same constraints, maybe more).
  for (const [k, v] of Object.entries(registered.params ?? {})) if (requested.params?.[k] !== v) return false;
  return true;
}

export interface ScopeCheck {
  /** Requested scopes the registration allows, in request order. */
  allowed: string[];
  /** Requested scopes beyond the registration (or not understood): the request is refused. */
  beyond: string[];
}

/** Requested ∩ registered, where a registered `patient/*.rs` allows a requested `patient/Observation.r`. */
export function checkAgainstRegistration(requested: string | undefined, registered: string | undefined): ScopeCheck {
  const reg = splitScopes(registered);
  const regStatic = new Set(reg.filter((s) => STATICS.has(s)));
  const regResource = reg.map(parseScope).filter((p): p is ParsedScope => p !== null);
  const allowed: string[] = [];
  const beyond: string[] = [];
  for (const scope of splitScopes(requested)) {
    if (STATICS.has(scope)) {
      (regStatic.has(scope) ? allowed : beyond).push(scope);
      continue;
    }
    const parsed = parseScope(scope);
    (parsed && regResource.some((r) => covers(r, parsed)) ? allowed : beyond).push(scope);
  }
  return { allowed, beyond };
}

export const resourceScopes = (scopes: string[]): string[] => scopes.filter((s) => !STATICS.has(s));
export const staticScopes = (scopes: string[]): string[] => scopes.filter((s) => STATICS.has(s));

const VERB_WORDS: Readonly<Record<SmartVerb, string>> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };
const ORDER: SmartVerb[] = ['r', 's', 'c', 'u', 'd'];
const STATIC_WORDS: Readonly<Record<string, string>> = {
  openid: 'Know who you are (your user id)',
  fhirUser: 'Know which user record is yours',
  launch: 'Open in the context of the record you launched it from',
  'launch/patient': 'Ask you to pick the patient to work on',
  offline_access: 'Keep access after you sign out, until you revoke it',
  online_access: 'Keep access while you stay signed in',
};

/** The consent screen's plain words for one scope. */
export function describeScope(scope: string): string {
  const known = STATIC_WORDS[scope];
  if (known) return known;
  const p = parseScope(scope);
  if (!p) return scope;
  const verbs = ORDER.filter((v) => p.verbs.has(v)).map((v) => VERB_WORDS[v]);
  const what = p.resourceType === '*' ? 'all kinds of records' : `${p.resourceType} records`;
  const whose = p.context === 'patient' ? 'of the selected patient' : p.context === 'user' ? 'that you can see at this clinic' : 'of the whole clinic';
  const filter = p.params ? ` (only where ${Object.entries(p.params).map(([k, v]) => `${k} is ${v}`).join(' and ')})` : '';
  const list = verbs.length > 1 ? `${verbs.slice(0, -1).join(', ')} and ${verbs[verbs.length - 1]}` : verbs[0];
  return `${list.charAt(0).toUpperCase()}${list.slice(1)} ${what} ${whose}${filter}`;
}
