import crypto from 'node:crypto';
import { expect } from 'chai';
import { postForm, urls } from './helpers';
import { consent, type ScriptedBrowser, signInPage, type Staff } from './scripted-browser';

export interface Pkce { verifier: string; challenge: string }
export const pkce = (): Pkce => {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
};

/** An authorization request URL as a SMART app builds it (override or drop any parameter). */
export async function authorizeUrl(clientId: string, redirectUri: string, p: Pkce, over: Record<string, string | undefined> = {}): Promise<string> {
  const { authorize, fhir } = await urls();
  const params: Record<string, string | undefined> = {
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'openid fhirUser launch/patient offline_access patient/Patient.rs',
    state: crypto.randomBytes(8).toString('hex'), aud: fhir, code_challenge: p.challenge, code_challenge_method: 'S256', ...over,
  };
  const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return `${authorize}?${q}`;
}

/**
 * Runs an authorization to its redirect: signs in when the browser has no session (TOTP `step`
 * periods ahead), consents, and returns the redirect URL's parameters.
 */
export async function authorizationCode(b: ScriptedBrowser, who: Staff, clientId: string, redirectUri: string, opts: { pkce?: Pkce; step?: number; over?: Record<string, string | undefined>; patient?: string } = {}) {
  const p = opts.pkce ?? pkce();
  const url = await authorizeUrl(clientId, redirectUri, p, opts.over);
  const atApp = (u: string) => u.startsWith(redirectUri);
  let page = await b.follow(url, atApp);
  if (page.text.includes('name="password"')) page = await signInPage(b, page, who, { totpStep: opts.step ?? 0, stop: atApp });
  if (!atApp(page.url)) page = await consent(b, page, { patient: opts.patient, stop: atApp });
  expect(atApp(page.url), page.text.slice(0, 500)).to.equal(true);
  const params = new URL(page.url).searchParams;
  return { code: params.get('code') ?? '', state: params.get('state'), error: params.get('error'), sent: new URL(url).searchParams, pkce: p };
}

export async function exchange(clientId: string, redirectUri: string, code: string, verifier: string, extra: Record<string, string> = {}) {
  return postForm((await urls()).token, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier, ...extra });
}

export async function refresh(clientId: string, refreshToken: string) {
  return postForm((await urls()).token, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
}

export async function fhirRead(token: string, path: string): Promise<number> {
  return (await fetch(`${(await urls()).fhir}/${path}`, { headers: { Authorization: `Bearer ${token}` } })).status;
}
