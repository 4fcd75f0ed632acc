import type { Knex } from 'knex';
import type { AuditFacts } from '../audit/record';
import { recordAudit } from '../audit/writer';
import { currentRequest } from '../http/request-context';

export { OAUTH_EVENT_SYSTEM } from '../audit/render';

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

/**
 * An authentication event in the ATNA/BALP user-authentication shape (rendered by audit/render.ts):
 * type DCM 110114 (110113 for a lockout), subtype Login/Logout or our OAuth step, action E, the user
 * and client as agents, the token and its scopes as an entity.
 */
export function authEventFacts(f: AuthAuditFacts): AuditFacts {
  const info = currentRequest();
  return {
    type: 'auth', interaction: f.kind, action: 'E', outcome: f.outcome, outcomeDesc: f.reason,
    clinicId: f.clinicId, userId: f.userId, clientId: f.clientId, sourceIp: info?.sourceIp, requestId: info?.requestId,
    patientIds: f.patientId ? [f.patientId] : undefined, tokenId: f.tokenId, scope: f.scope,
  };
}

/**
 * Records an authentication event in its own transaction (there is no request transaction at the
 * authorization server). Events naming no clinic are kept with clinic_id NULL for operators.
 */
export async function recordAuthEvent(db: Knex, f: AuthAuditFacts): Promise<void> {
  await recordAudit(db, authEventFacts(f));
}

/** The same event in each clinic where the account is a member (each clinic's officer sees it). */
export async function recordAuthEventInClinics(db: Knex, clinicIds: string[], f: Omit<AuthAuditFacts, 'clinicId'>): Promise<void> {
  const targets: Array<string | null> = clinicIds.length > 0 ? clinicIds : [null];
  for (const clinicId of targets) await recordAuthEvent(db, { ...f, clinicId });
}
