import type { AuditEvent, Coding } from 'fhir/r4';
import type { Knex } from 'knex';
import { buildAuditEvent } from '../audit/balp';
import { insertAuditEvent } from '../audit/writer';
import { currentRequest } from '../http/request-context';
import { withClinic } from '../tenancy/with-clinic';

/** What the authorization server audits. */
export type AuthEventKind =
  | 'login' | 'logout' | 'lockout'
  | 'authorize' | 'token' | 'refresh' | 'revoke' | 'introspect';

export interface AuthAuditFacts {
  kind: AuthEventKind;
  outcome: '0' | '4' | '8';
  /** Why it failed (never a password, code or token). */
  reason?: string;
  clinicId: string | null;
  userId?: string;
  clientId?: string;
  /** Granted (or requested, on a refusal) scopes. */
  scope?: string;
  patientId?: string;
  /** The access token's jti, so a compliance officer can tie later FHIR access to this grant. */
  tokenId?: string;
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const OAUTH_EVENT_SYSTEM = 'urn:clinic-fhir:oauth';
const USER_AUTHENTICATION: Coding = { system: DCM, code: '110114', display: 'User Authentication' };
const SECURITY_ALERT: Coding = { system: DCM, code: '110113', display: 'Security Alert' };

const SUBTYPE: Readonly<Record<AuthEventKind, Coding>> = {
  login: { system: DCM, code: '110122', display: 'Login' },
  logout: { system: DCM, code: '110123', display: 'Logout' },
  lockout: { system: OAUTH_EVENT_SYSTEM, code: 'lockout', display: 'Account or address locked out' },
  authorize: { system: OAUTH_EVENT_SYSTEM, code: 'authorize', display: 'Authorization request' },
  token: { system: OAUTH_EVENT_SYSTEM, code: 'token', display: 'Access token issued' },
  refresh: { system: OAUTH_EVENT_SYSTEM, code: 'refresh', display: 'Access token refreshed' },
  revoke: { system: OAUTH_EVENT_SYSTEM, code: 'revoke', display: 'Token revoked' },
  introspect: { system: OAUTH_EVENT_SYSTEM, code: 'introspect', display: 'Token introspected' },
};

/**
 * An authentication event in the ATNA/BALP user-authentication shape: type DCM 110114, subtype
 * Login/Logout (or our OAuth step), action E, the user and client as agents, source this server.
 */
export function buildAuthEvent(f: AuthAuditFacts): AuditEvent & { id: string; recorded: string } {
  const base = buildAuditEvent({
    interaction: f.kind, action: 'E', outcome: f.outcome, outcomeDesc: f.reason,
    clinicId: f.clinicId, userId: f.userId, clientId: f.clientId, sourceIp: currentRequest()?.sourceIp,
    patientIds: f.patientId ? [f.patientId] : undefined,
  });
  const detail = [
    ...(f.scope ? [{ type: 'scope', valueString: f.scope.slice(0, 2000) }] : []),
  ];
  const token = f.tokenId || detail.length ? [{
    ...(f.tokenId ? { what: { identifier: { system: 'urn:clinic-fhir:token', value: f.tokenId } } } : {}),
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
    ...(detail.length ? { detail } : {}),
  }] : [];
  const { meta, ...rest } = base;
  return {
    ...rest,
    meta: { versionId: meta?.versionId, lastUpdated: meta?.lastUpdated },
    type: f.kind === 'lockout' ? SECURITY_ALERT : USER_AUTHENTICATION,
    subtype: [SUBTYPE[f.kind]],
    entity: [...(base.entity ?? []), ...token],
  };
}

/**
 * Records an authentication event in its own transaction (there is no request transaction at the
 * authorization server). Events naming no clinic are kept with clinic_id NULL for operators.
 */
export async function recordAuthEvent(db: Knex, f: AuthAuditFacts): Promise<void> {
  const event = buildAuthEvent(f);
  await withClinic(db, { clinicId: f.clinicId ?? '', userId: f.userId ?? '' }, ({ trx }) =>
    insertAuditEvent(trx, event, f.clinicId, f.patientId ? [f.patientId] : undefined));
}

/** The same event in each clinic where the account is a member (each clinic's officer sees it). */
export async function recordAuthEventInClinics(db: Knex, clinicIds: string[], f: Omit<AuthAuditFacts, 'clinicId'>): Promise<void> {
  const targets: Array<string | null> = clinicIds.length > 0 ? clinicIds : [null];
  for (const clinicId of targets) await recordAuthEvent(db, { ...f, clinicId });
}
