import { expect } from 'chai';
import { authEvents, decodeJwt, postForm, publicClient, staffFixture, urls } from './helpers';
import { authorizationCode, authorizeUrl, exchange, fhirRead, pkce, refresh } from './flows';
import { ScriptedBrowser } from './scripted-browser';

/** Runs `fn` with the process clock `seconds` ahead (the authorization server runs in this process). */
async function later<T>(seconds: number, fn: () => Promise<T>): Promise<T> {
  const real = Date.now;
  Date.now = () => real() + seconds * 1000;
  try { return await fn(); } finally { Date.now = real; }
}

describe('App Launch tokens and refusals (authorization code + PKCE)', () => {
  const REDIRECT = 'http://127.0.0.1:9/app/callback';
  let staff: Awaited<ReturnType<typeof staffFixture>>;
  let clientId: string;
  let browser: ScriptedBrowser;

  before(async () => {
    staff = await staffFixture('doctor');
    clientId = await publicClient(staff.clinic, REDIRECT);
    browser = new ScriptedBrowser();
  });

  const code = async (over: Record<string, string | undefined> = {}) => authorizationCode(browser, staff, clientId, REDIRECT, { over, patient: staff.patients[0] });
  const tokenRefusals = async () => (await authEvents(staff.clinic, 'token')).filter((e) => e.outcome === '4').map((e) => e.reason);

  it('state comes back unchanged, and the code gets tokens with patient, scope and a refresh token', async () => {
    const c = await code();
    expect(c.state).to.equal(c.sent.get('state'));
    const res = await exchange(clientId, REDIRECT, c.code, c.pkce.verifier);
    expect(res.status, res.text).to.equal(200);
    expect(res.json).to.include({ patient: staff.patients[0], token_type: 'Bearer' });
    expect(res.json.refresh_token).to.be.a('string');
    expect(await fhirRead(res.json.access_token as string, `Patient/${staff.patients[0]}`)).to.equal(200);
    expect(await fhirRead(res.json.access_token as string, `Patient/${staff.patients[1]}`)).to.equal(404);
  });

  it('refresh rotates the refresh token; reusing the old one is refused and revokes the whole family', async () => {
    const c = await code();
    const first = await exchange(clientId, REDIRECT, c.code, c.pkce.verifier);
    const rotated = await refresh(clientId, first.json.refresh_token as string);
    expect(rotated.status, rotated.text).to.equal(200);
    expect(rotated.json.refresh_token).to.be.a('string').and.not.equal(first.json.refresh_token);
    expect(rotated.json.patient).to.equal(staff.patients[0]);
    expect(await fhirRead(rotated.json.access_token as string, `Patient/${staff.patients[0]}`)).to.equal(200);

    const reused = await refresh(clientId, first.json.refresh_token as string);
    expect(reused.status).to.equal(400);
    expect(reused.json.error).to.equal('invalid_grant');
    expect((await refresh(clientId, rotated.json.refresh_token as string)).json.error).to.equal('invalid_grant');
    expect(await fhirRead(rotated.json.access_token as string, `Patient/${staff.patients[0]}`)).to.equal(401);
    const refreshes = await authEvents(staff.clinic, 'refresh');
    expect(refreshes.some((e) => e.outcome === '4' && /already used/.test(e.reason))).to.equal(true);
    expect(refreshes.some((e) => e.outcome === '0')).to.equal(true);
  });

  it('introspection reports active, scope, client_id, exp, patient and fhirUser; revocation ends the family', async () => {
    const c = await code();
    const t = await exchange(clientId, REDIRECT, c.code, c.pkce.verifier);
    const { introspect, revoke } = await urls();
    const info = await postForm(introspect, { token: t.json.access_token as string, client_id: clientId });
    expect(info.status, info.text).to.equal(200);
    expect(info.json).to.include({ active: true, client_id: clientId, scope: 'patient/Patient.rs', patient: staff.patients[0] });
    expect(info.json.exp).to.be.a('number');
    expect(info.json.fhirUser).to.match(new RegExp(`/Practitioner/${staff.user}$`));
    expect((await postForm(introspect, { token: t.json.refresh_token as string, client_id: clientId })).json.active).to.equal(true);

    expect((await postForm(revoke, { token: t.json.refresh_token as string, client_id: clientId })).status).to.equal(200);
    expect((await refresh(clientId, t.json.refresh_token as string)).json.error).to.equal('invalid_grant');
    expect(await fhirRead(t.json.access_token as string, `Patient/${staff.patients[0]}`)).to.equal(401);
    expect((await postForm(introspect, { token: t.json.access_token as string, client_id: clientId })).json).to.deep.equal({ active: false });
    expect((await authEvents(staff.clinic, 'revoke')).some((e) => e.outcome === '0' && /family/.test(e.reason))).to.equal(true);
  });

  describe('authorization requests that are refused', () => {
    const redirected = async (over: Record<string, string | undefined>) => {
      const r = await browser.request(await authorizeUrl(clientId, REDIRECT, pkce(), over));
      expect(r.status, r.text.slice(0, 300)).to.be.within(300, 399);
      const to = new URL(r.location!);
      expect(`${to.origin}${to.pathname}`).to.equal(REDIRECT);
      // response_type=token answers in the fragment (its default response mode).
      const params = to.hash ? new URLSearchParams(to.hash.slice(1)) : to.searchParams;
      return { error: params.get('error'), state: params.get('state') };
    };
    const cases: Array<[string, Record<string, string | undefined>, string]> = [
      ['without PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
      ['with PKCE method plain', { code_challenge_method: 'plain' }, 'invalid_request'],
      ['with an aud that is not our FHIR base', { aud: 'https://elsewhere.example/fhir' }, 'invalid_request'],
      ['without aud', { aud: undefined }, 'invalid_request'],
      ['with a scope beyond the registration', { scope: 'openid patient/Patient.rs user/*.cruds' }, 'invalid_scope'],
      ['with a system/ scope', { scope: 'system/Patient.rs' }, 'invalid_scope'],
      ['with response_type token', { response_type: 'token' }, 'unsupported_response_type'],
      ['with a launch value that does not exist', { launch: 'x'.repeat(43), scope: 'launch patient/Patient.rs' }, 'invalid_request'],
    ];
    for (const [what, over, error] of cases) {
      it(`${what} -> ${error} at the registered redirect_uri, with state`, async () => {
        const r = await redirected(over);
        expect(r.error).to.equal(error);
        expect(r.state).to.be.a('string');
        const refusals = (await authEvents(staff.clinic, 'authorize')).filter((e) => e.outcome === '4');
        expect(refusals.length).to.be.greaterThan(0);
      });
    }

    it('an unregistered redirect_uri gets an error page, never a redirect (no open redirect)', async () => {
      const r = await browser.request(await authorizeUrl(clientId, 'https://evil.example/cb', pkce()));
      expect(r.status).to.equal(400);
      expect(r.location).to.equal(null);
      expect(r.text).to.include('redirect_uri');
    });

    it('an unknown client_id gets an error page, never a redirect', async () => {
      const r = await browser.request(await authorizeUrl(crypto.randomUUID(), REDIRECT, pkce()));
      expect(r.status).to.equal(400);
      expect(r.location).to.equal(null);
    });
  });

  describe('token requests that are refused (each audited)', () => {
    it('a reused code is refused and the tokens it gave are revoked', async () => {
      const c = await code();
      const first = await exchange(clientId, REDIRECT, c.code, c.pkce.verifier);
      const again = await exchange(clientId, REDIRECT, c.code, c.pkce.verifier);
      expect(again.status).to.equal(400);
      expect(again.json.error).to.equal('invalid_grant');
      expect(await fhirRead(first.json.access_token as string, `Patient/${staff.patients[0]}`)).to.equal(401);
      expect(await tokenRefusals()).to.satisfy((r: string[]) => r.some((x) => /already consumed/.test(x)));
    });

    it('a wrong code_verifier is refused', async () => {
      const c = await code();
      const res = await exchange(clientId, REDIRECT, c.code, pkce().verifier);
      expect(res.json.error).to.equal('invalid_grant');
      expect(await tokenRefusals()).to.satisfy((r: string[]) => r.some((x) => /code_verifier/.test(x)));
    });

    it('an expired code is refused', async () => {
      const c = await code();
      const res = await later(120, () => exchange(clientId, REDIRECT, c.code, c.pkce.verifier));
      expect(res.json.error).to.equal('invalid_grant');
      expect(await tokenRefusals()).to.satisfy((r: string[]) => r.some((x) => /expired|not found/.test(x)));
    });

    it('a redirect_uri different from the authorization request is refused', async () => {
      const c = await code();
      const res = await exchange(clientId, 'http://127.0.0.1:9/other', c.code, c.pkce.verifier);
      expect(res.json.error).to.be.oneOf(['invalid_grant', 'invalid_request']);
    });

    it('a token request without grant_type, or for a grant the client lacks, gets the right error', async () => {
      const { token } = await urls();
      expect((await postForm(token, { client_id: clientId })).json.error).to.equal('invalid_request');
      expect((await postForm(token, { client_id: clientId, grant_type: 'client_credentials', scope: 'system/Patient.rs' })).json.error).to.equal('unauthorized_client');
    });

    it('the access token carries the claims the FHIR API verifies', async () => {
      const c = await code();
      const t = await exchange(clientId, REDIRECT, c.code, c.pkce.verifier);
      const claims = decodeJwt(t.json.access_token as string);
      expect(claims).to.include({ sub: staff.user, clinic: staff.clinic, patient: staff.patients[0], client_id: clientId, scope: 'patient/Patient.rs' });
      expect((claims.exp as number) - (claims.iat as number)).to.be.at.most(3600);
    });
  });
});
