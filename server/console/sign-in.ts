import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { Knex } from 'knex';
import type { Config } from '../config';
import { forbidden, OperationOutcomeError } from '../http/errors';
import { CONSOLE_CLIENT_ID, CONSOLE_SCOPE, consoleRedirectUri } from '../oauth/first-party';
import type { KeyRing } from '../oauth/signing-keys';
import { oauthUrls } from '../oauth/urls';
import { audited } from '../pipeline/audited';
import { accessOf, type ConsoleSession, LOGIN_COOKIE, readPendingLogin, writePendingLogin, writeSession } from './session';
import { staffLabels } from './staff';

export interface SignInDeps { cfg: Config; db: Knex; keys: KeyRing }

const safeNext = (v: unknown): string => (typeof v === 'string' && /^\/console(\/[A-Za-z0-9/_-]*)?(\?[^\s]*)?$/.test(v) && !v.startsWith('//') ? v : '/console');

/** Starts the OpenID Connect code flow with PKCE at our own authorization server. */
export function startSignIn(deps: SignInDeps, req: Request, res: Response): void {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const state = crypto.randomBytes(16).toString('base64url');
  writePendingLogin(res, { state, verifier, next: safeNext(req.query.next), at: Date.now() }, deps.cfg.oauth.cookieSecure);
  const q = new URLSearchParams({
    response_type: 'code', client_id: CONSOLE_CLIENT_ID, redirect_uri: consoleRedirectUri(deps.cfg), scope: CONSOLE_SCOPE, state,
    aud: deps.cfg.tokenAudience, code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  res.redirect(303, `${oauthUrls(deps.cfg).authorize}?${q}`);
}

const refused = (text: string) => new OperationOutcomeError(400, { severity: 'error', code: 'login', diagnostics: text });

/** The access token the token endpoint answered, verified as the API verifies it: our key, issuer, audience, expiry. */
async function verifiedClaims(deps: SignInDeps, token: string): Promise<Record<string, unknown>> {
  const key = await deps.keys.find(decodeProtectedHeader(token).kid);
  if (!key) throw refused('The sign-in answered a token this server did not sign.');
  const { payload } = await jwtVerify(token, key.publicKey, { issuer: deps.cfg.tokenIssuer, audience: deps.cfg.tokenAudience, clockTolerance: 5 });
  return payload as Record<string, unknown>;
}

/**
 * The redirect back from the authorization server: the code is exchanged (PKCE verifier), the token
 * verified, and the user's role at the clinic must hold compliance.auditEvents.search, checked in an
 * audited RLS transaction like every console page, before a session exists.
 */
export async function finishSignIn(deps: SignInDeps, req: Request, res: Response): Promise<void> {
  const pending = readPendingLogin(req);
  res.clearCookie(LOGIN_COOKIE, { path: '/console' });
  if (typeof req.query.error === 'string') throw refused('The sign-in was cancelled or refused. Start again.');
  if (!pending || typeof req.query.state !== 'string' || req.query.state !== pending.state || typeof req.query.code !== 'string') {
    throw refused('This sign-in has expired or does not belong to this browser. Start again.');
  }
  const answer = await fetch(oauthUrls(deps.cfg).token, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: req.query.code, redirect_uri: consoleRedirectUri(deps.cfg), client_id: CONSOLE_CLIENT_ID, code_verifier: pending.verifier }),
  });
  const body = await answer.json().catch(() => ({})) as { access_token?: string };
  if (!answer.ok || typeof body.access_token !== 'string') throw refused('The sign-in could not be completed. Start again.');
  const claims = await verifiedClaims(deps, body.access_token);
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const now = Date.now();
  const session: ConsoleSession = {
    sid: crypto.randomBytes(16).toString('base64url'), userId: String(claims.sub), clinicId: String(claims[deps.cfg.clinicClaim]),
    tokenId: str(claims.jti), clientId: CONSOLE_CLIENT_ID, fhirUser: str(claims.fhirUser), scope: str(claims.scope) ?? '',
    label: '', signedInAt: now, seenAt: now,
  };
  const access = accessOf(session);
  await audited(deps.db, access, { interaction: 'console-sign-in', action: 'E', outcome: '0', clinicId: access.clinicId, userId: access.userId, clientId: CONSOLE_CLIENT_ID, resourceType: 'AuditEvent' }, {}, async (tx) => {
    try { tx.require('AuditEvent', 'search'); } catch { throw forbidden('Your role at this clinic does not include the compliance console (compliance.auditEvents.search).'); }
    tx.audit({ interaction: 'console-sign-in', action: 'E', outcome: '0', clinicId: access.clinicId, userId: access.userId, clientId: CONSOLE_CLIENT_ID, resourceType: 'AuditEvent' });
  });
  session.label = (await staffLabels(deps.db, access.clinicId, [access.userId])).get(access.userId) ?? '';
  writeSession(res, session, deps.cfg.oauth.cookieSecure);
  res.redirect(303, pending.next);
}
