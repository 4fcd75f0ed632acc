import { SERVER_EVENTS_CLINIC } from '../../server/audit/record';
import { auditEvents } from '../helpers/audit';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from 'fhir/r4';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { generate } from 'otplib';
import { freePort } from '../../db/embedded';
import { createOAuthClient, enrollMfa, setUserPassword, type ClientSpec } from '../../server/admin/oauth';
import { createApp } from '../../server/app';
import { loadConfig, type Config } from '../../server/config';
import { admin, api, FHIR, newClinic, newUser, patientBody, testServer, tokenFor } from '../helpers/server';

/**
 * The OAuth tests need a server reachable at its own BASE_URL (redirects, token audience), so they
 * get a second app on the shared database, listening on 127.0.0.1 at the port its URL names.
 */
let oauth: Promise<{ url: string; cfg: Config; server: http.Server }> | undefined;

export function oauthServer(env: Record<string, string> = {}) {
  oauth ??= (async () => {
    const shared = await testServer();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const cfg = loadConfig({ DATA_DIR: shared.cfg.dataDir, PORT: String(port), LOG_LEVEL: 'silent', BASE_URL: url, ...env });
    const app = createApp({ cfg, db: shared.db.runtime, keys: shared.keyRing, oauthSecrets: shared.oauthSecrets, pageSecret: 'p'.repeat(32), seal: shared.seal });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return { url, cfg, server };
  })();
  return oauth;
}

export async function closeOAuthServer(): Promise<void> {
  if (!oauth) return;
  const { server } = await oauth;
  await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
  oauth = undefined;
}

export const urls = async () => {
  const { url } = await oauthServer();
  return { base: url, fhir: `${url}/fhir`, token: `${url}/oidc/token`, authorize: `${url}/oidc/auth`, introspect: `${url}/oidc/token/introspection`, revoke: `${url}/oidc/token/revocation` };
};

/** A clinic, a staff user with a password and enrolled TOTP, and two patients the user may see. */
export async function staffFixture(role = 'doctor', clinicId?: string) {
  const clinic = clinicId ?? await newClinic('OAuth');
  const user = await newUser(clinic, role);
  const email = (await (await admin())('app_user').where({ id: user }).first('email')).email as string;
  const password = `correct horse ${Math.random().toString(36).slice(2)}`;
  await setUserPassword(await admin(), user, password);
  const { secret } = await enrollMfa(await admin(), user);
  const writer = await tokenFor({ clinicId: clinic, userId: user, scope: 'user/*.cruds' });
  const patients: string[] = [];
  for (const family of ['Ablewhite', 'Bexley']) {
    const res = await (await api()).post('/fhir/Patient').set('Authorization', `Bearer ${writer}`).set('Content-Type', FHIR).send(patientBody(family));
    patients.push(res.body.id as string);
  }
  return { clinic, user, email, password, secret, patients };
}

/** The TOTP code `steps` periods from now (a later step lets the same user sign in twice in a test). */
export const totp = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 });

export async function publicClient(clinicId: string, redirectUri: string, scope = 'openid fhirUser launch launch/patient offline_access online_access patient/*.rs user/*.rs') {
  return (await createOAuthClient(await admin(), { clinicId, name: 'Test App', type: 'public', redirectUris: [redirectUri], scope })).clientId;
}

/** A backend-services client with an ES384 or RS384 key registered inline; returns a signer of assertions. */
export async function backendClient(clinicId: string, opts: Partial<ClientSpec> & { alg?: 'ES384' | 'RS384' } = {}) {
  const alg = opts.alg ?? 'ES384';
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: `k-${Math.random().toString(36).slice(2)}`, alg };
  const { clientId } = await createOAuthClient(await admin(), {
    clinicId, name: 'Backend', type: 'confidential-asymmetric', redirectUris: [], scope: 'system/Patient.rs system/AuditEvent.rs',
    jwks: { keys: [jwk] }, role: 'doctor', ...opts,
  });
  const { token } = await urls();
  const assertion = async (over: { aud?: string; sub?: string; iss?: string; exp?: number; jti?: string; key?: Parameters<SignJWT['sign']>[0]; kid?: string; alg?: string } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: over.alg ?? alg, kid: over.kid ?? jwk.kid, typ: 'JWT' })
      .setIssuer(over.iss ?? clientId).setSubject(over.sub ?? clientId).setAudience(over.aud ?? token)
      .setJti(over.jti ?? crypto.randomUUID()).setIssuedAt()
      .setExpirationTime(over.exp ?? Math.floor(Date.now() / 1000) + 240)
      .sign(over.key ?? privateKey);
  return { clientId, assertion, alg };
}

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...headers }, body: new URLSearchParams(form) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

/** AuditEvents of a clinic (read with the migration account, which RLS does not confine). */
export async function auditTrail(clinicId: string | null): Promise<AuditEvent[]> {
  return auditEvents((q) => (clinicId === null ? q.where({ clinic_id: SERVER_EVENTS_CLINIC }) : q.where({ clinic_id: clinicId })));
}

export const subtypeOf = (e: AuditEvent): string | undefined => e.subtype?.[0]?.code;

/** Events of one OAuth step (`token`, `login`...) with their outcome and reason, for assertions. */
export async function authEvents(clinicId: string | null, step: string) {
  const trail = await auditTrail(clinicId);
  const code = step === 'login' ? '110122' : step === 'logout' ? '110123' : step;
  return trail.filter((e) => subtypeOf(e) === code).map((e) => ({ outcome: e.outcome, reason: e.outcomeDesc ?? '', event: e }));
}

export const decodeJwt = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
