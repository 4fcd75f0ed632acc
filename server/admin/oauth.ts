import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { parseScope } from '../auth/scopes';
import type { SigningKey } from '../auth/keys';
import { hashPassword, newTotpSecret, otpauthUri, PASSWORD_MIN_LENGTH } from '../oauth/credentials';
import type { ClientType } from '../oauth/clients';
import { LAUNCH_TTL_S, newLaunchId } from '../oauth/launch';
import { PURPOSE } from '../oauth/sealed-secrets';
import { seal } from '../oauth/secret-box';
import { loadSigningKeyAsAdmin } from '../oauth/signing-keys';
import { STATIC_SCOPES, splitScopes } from '../oauth/smart-scopes';
import { isUuid } from '../http/ids';
import { PRIVILEGED, type PrivilegedActor } from '../audit/privileged';
import { clientState, clinicsOf, credentialState, defaultActor, privileged } from './changes';
import { AdminError, asAdmin } from './tenancy';

const need = (cond: unknown, msg: string): void => { if (!cond) throw new AdminError(msg); };

function checkRedirectUri(uri: string): void {
  let u: URL;
  try { u = new URL(uri); } catch { throw new AdminError(`--redirect-uri ${uri} is not an absolute URL`); }
  need(u.protocol === 'https:' || u.protocol === 'http:', `--redirect-uri ${uri} must be http(s)`);
  need(!u.hash, `--redirect-uri ${uri} must not have a fragment`);
}

function checkScopes(scope: string, type: ClientType): string[] {
  const scopes = splitScopes(scope);
  need(scopes.length > 0, '--scope is required');
  for (const s of scopes) need(STATIC_SCOPES.includes(s) || parseScope(s), `--scope: "${s}" is not a SMART scope`);
  need(type === 'confidential-asymmetric' || !scopes.some((s) => s.startsWith('system/')), 'system/ scopes need a confidential-asymmetric client');
  return scopes;
}

function checkJwks(jwks: unknown): { keys: Array<Record<string, unknown>> } {
  const set = jwks as { keys?: unknown };
  need(set && Array.isArray(set.keys) && set.keys.length > 0, 'the JWKS must be {"keys": [...]} with at least one key');
  for (const k of (set.keys as Array<Record<string, unknown>>)) {
    need(typeof k.kty === 'string' && (k.kty === 'RSA' || k.kty === 'EC'), 'JWKS keys must be RSA or EC public keys');
    need(k.d === undefined, 'the JWKS holds a private key: register public keys only');
  }
  return set as { keys: Array<Record<string, unknown>> };
}

export interface ClientSpec {
  clinicId: string;
  name: string;
  type: ClientType;
  redirectUris: string[];
  scope: string;
  jwks?: unknown;
  jwksUrl?: string;
  /** The role system/ tokens act with at the clinic (required when system/ scopes are registered). */
  role?: string;
}

/**
 * Registers a client. A backend-services client (system/ scopes) gets a service user with the same
 * id and a membership at its clinic with `role`: system tokens act as that principal, so RLS and the
 * role tree cap them like any user, and disabling the client disables the principal.
 */
export async function createOAuthClient(admin: Knex, spec: ClientSpec, actor: PrivilegedActor = defaultActor()) {
  need(isUuid(spec.clinicId), '--clinic must be a clinic id (uuid)');
  need(typeof spec.name === 'string' && spec.name.trim().length > 0 && spec.name.length <= 200, '--name must be 1 to 200 characters');
  need(spec.type === 'public' || spec.type === 'confidential-asymmetric', '--type must be public or confidential-asymmetric');
  spec.redirectUris.forEach(checkRedirectUri);
  const scopes = checkScopes(spec.scope, spec.type);
  const system = scopes.some((s) => s.startsWith('system/'));
  need(spec.redirectUris.length > 0 || system, 'a client needs --redirect-uri (app launch) or system/ scopes (backend services)');
  if (spec.type === 'public') need(!spec.jwks && !spec.jwksUrl, 'a public client has no keys');
  else need(!!spec.jwks !== !!spec.jwksUrl, 'a confidential-asymmetric client needs exactly one of --jwks-file or --jwks-url');
  if (spec.jwksUrl) need(/^https:\/\//.test(spec.jwksUrl), '--jwks-url must be an https URL');
  const jwks = spec.jwks ? checkJwks(spec.jwks) : undefined;
  need(!system || spec.role, '--role is required with system/ scopes (the role the client acts with at its clinic)');

  return privileged(admin, actor, async (trx, changes) => {
    const clinic = await trx('clinic').where({ id: spec.clinicId }).first('id');
    need(clinic, `no clinic ${spec.clinicId}`);
    const id = crypto.randomUUID();
    let serviceUser: string | null = null;
    if (system) {
      const role = await trx('role').where({ clinic_id: spec.clinicId, name: spec.role }).first('id');
      need(role, `clinic ${spec.clinicId} has no role "${spec.role}"`);
      await trx('app_user').insert({ id, email: `client-${id}@clients.invalid`, display_name: `Client: ${spec.name.trim()}` });
      await trx('membership').insert({ user_id: id, clinic_id: spec.clinicId, role_id: role.id });
      serviceUser = id;
    }
    await trx('oauth_client').insert({
      id, clinic_id: spec.clinicId, name: spec.name.trim(), client_type: spec.type, redirect_uris: spec.redirectUris,
      scope: scopes.join(' '), jwks: jwks ? JSON.stringify(jwks) : null, jwks_uri: spec.jwksUrl ?? null, service_user_id: serviceUser,
    });
    changes.push({ subtype: PRIVILEGED.softwareConfiguration, action: 'C', object: 'OAuthClient', id, new: await clientState(trx, id), clinicIds: [spec.clinicId], summary: 'client registered' });
    return { clientId: id, clinicId: spec.clinicId, type: spec.type, scope: scopes.join(' '), ...(system ? { role: spec.role } : {}) };
  });
}

export async function listOAuthClients(admin: Knex, clinicId?: string) {
  return asAdmin(admin, (trx) => trx('oauth_client').modify((q) => { if (clinicId) q.where({ clinic_id: clinicId }); })
    .select('id', 'clinic_id as clinicId', 'name', 'client_type as type', 'redirect_uris as redirectUris', 'scope', 'disabled', 'created_at as createdAt')
    .orderBy('created_at'));
}

/** Disables (or enables) a client and its service principal: outstanding system tokens stop working too. */
export async function setClientDisabled(admin: Knex, clientId: string, disabled: boolean, actor: PrivilegedActor = defaultActor()) {
  need(isUuid(clientId), '--client must be a client id (uuid)');
  return privileged(admin, actor, async (trx, changes) => {
    const old = await clientState(trx, clientId);
    const [row] = await trx('oauth_client').where({ id: clientId }).update({ disabled }).returning(['id', 'clinic_id', 'service_user_id']);
    need(row, `no client ${clientId}`);
    if (row.service_user_id) await trx('app_user').where({ id: row.service_user_id }).update({ disabled });
    changes.push({
      subtype: PRIVILEGED.softwareConfiguration, action: 'U', object: 'OAuthClient', id: clientId, old, new: await clientState(trx, clientId),
      clinicIds: [row.clinic_id as string], summary: disabled ? 'client disabled' : 'client enabled',
    });
    return { clientId, disabled };
  });
}

export async function setUserPassword(admin: Knex, userId: string, password: string, actor: PrivilegedActor = defaultActor()) {
  need(isUuid(userId), '--user must be a user id (uuid)');
  need(typeof password === 'string' && password.length >= PASSWORD_MIN_LENGTH && password.length <= 256, `--password must be ${PASSWORD_MIN_LENGTH} to 256 characters`);
  const hash = await hashPassword(password);
  return privileged(admin, actor, async (trx, changes) => {
    need(await trx('app_user').where({ id: userId }).first('id'), `no user ${userId}`);
    const old = await credentialState(trx, userId);
    await trx('user_credential').insert({ user_id: userId, password_hash: hash }).onConflict('user_id').merge({ password_hash: hash, updated_at: trx.fn.now() });
    changes.push({
      subtype: PRIVILEGED.userSecurityAttributesChanged, action: 'U', object: 'User', id: userId, old, new: await credentialState(trx, userId),
      clinicIds: await clinicsOf(trx, userId), summary: 'password set',
    });
    return { userId, password: 'set' };
  });
}

/** Enrols (or re-enrols) TOTP: prints the secret and the otpauth URI for an authenticator app. */
export async function enrollMfa(admin: Knex, userId: string, actor: PrivilegedActor = defaultActor()) {
  need(isUuid(userId), '--user must be a user id (uuid)');
  const secret = newTotpSecret();
  return privileged(admin, actor, async (trx, changes) => {
    const user = await trx('app_user').where({ id: userId }).first('id', 'email');
    need(user, `no user ${userId}`);
    const old = await credentialState(trx, userId);
    const sealed = seal(secret, PURPOSE.totp);
    await trx('user_credential').insert({ user_id: userId, totp_secret: sealed, mfa_enrolled_at: trx.fn.now() })
      .onConflict('user_id').merge({ totp_secret: sealed, totp_last_step: null, mfa_enrolled_at: trx.fn.now(), updated_at: trx.fn.now() });
    changes.push({
      subtype: PRIVILEGED.userSecurityAttributesChanged, action: 'U', object: 'User', id: userId, old, new: await credentialState(trx, userId),
      clinicIds: await clinicsOf(trx, userId), summary: 'TOTP enrolled',
    });
    return { userId, secret, otpauthUri: otpauthUri(secret, user.email as string) };
  });
}

/** Lifting sign-in locks lives in lockout.ts; re-exported for the callers that know it here. */
export { unlockUser } from './lockout';

/** Mints an EHR launch value for a user and (optionally) a patient, as an EHR-side launcher would. */
export async function createLaunch(admin: Knex, opts: { clinicId: string; userId: string; patientId?: string; clientId?: string }) {
  need(isUuid(opts.clinicId), '--clinic must be a clinic id (uuid)');
  need(isUuid(opts.userId), '--user must be a user id (uuid)');
  need(opts.patientId === undefined || isUuid(opts.patientId), '--patient must be a patient id (uuid)');
  need(opts.clientId === undefined || isUuid(opts.clientId), '--client must be a client id (uuid)');
  const id = newLaunchId();
  return asAdmin(admin, async (trx) => {
    await trx('oauth_launch').insert({
      id, clinic_id: opts.clinicId, user_id: opts.userId, patient_id: opts.patientId ?? null, client_id: opts.clientId ?? null,
      expires_at: trx.raw('now() + make_interval(secs => ?)', [LAUNCH_TTL_S]),
    });
    return { launch: id, expiresIn: LAUNCH_TTL_S };
  });
}

export function readJwksFile(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(path.resolve(file), 'utf8'));
  } catch (err) {
    throw new AdminError(`--jwks-file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The key the admin CLI signs tokens with: the servers' current signing key (created if none yet). */
export function adminSigningKey(admin: Knex, dataDir: string): Promise<SigningKey> {
  return loadSigningKeyAsAdmin(admin, dataDir);
}
