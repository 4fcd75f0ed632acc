import { expect } from 'chai';
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { setUserPractitioner } from '../../server/admin/tenancy';
import { created } from '../helpers/resources';
import { actor, admin } from '../helpers/server';
import { authEvents, decodeJwt, postForm, publicClient, staffFixture, urls } from './helpers';
import { authorizationCode, exchange } from './flows';
import { ScriptedBrowser } from './scripted-browser';

describe('SMART interoperability: refresh without client_id, RS256 ID tokens, fhirUser', () => {
  const REDIRECT = 'http://127.0.0.1:9/interop/callback';
  let staff: Awaited<ReturnType<typeof staffFixture>>;
  let clientId: string;
  let practitionerId: string;
  let tokens: Record<string, unknown>;

  before(async () => {
    staff = await staffFixture('doctor');
    const boss = await actor('clinic-admin', 'user/*.cruds', staff.clinic);
    practitionerId = await created(boss.auth, 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Interop', given: ['Ida'] }], active: true });
    await setUserPractitioner(await admin(), { clinicId: staff.clinic, userId: staff.user, practitionerId });
    clientId = await publicClient(staff.clinic, REDIRECT);
    const { code, pkce } = await authorizationCode(new ScriptedBrowser(), staff, clientId, REDIRECT, { over: { scope: 'openid fhirUser offline_access user/Practitioner.rs user/Patient.rs' } });
    const t = await exchange(clientId, REDIRECT, code, pkce.verifier);
    expect(t.status, t.text).to.equal(200);
    tokens = t.json;
  });

  it('the ID token is signed RS256 with a key published in the JWKS, and discovery advertises RS256', async () => {
    const idToken = String(tokens.id_token);
    const header = decodeProtectedHeader(idToken);
    expect(header.alg).to.equal('RS256');
    const { base } = await urls();
    const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json() as { keys: JWK[] };
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    expect(jwk, 'the ID token key is published').to.include({ kty: 'RSA', alg: 'RS256' });
    const { payload } = await compactVerify(idToken, await importJWK(jwk!, 'RS256'));
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    expect(claims).to.include({ aud: clientId, sub: staff.user });
    const oidc = await (await fetch(`${base}/oidc/.well-known/openid-configuration`)).json() as { id_token_signing_alg_values_supported: string[] };
    expect(oidc.id_token_signing_alg_values_supported).to.include('RS256');
    // Access tokens stay ES256.
    expect(decodeProtectedHeader(String(tokens.access_token)).alg).to.equal('ES256');
  });

  it('an ID token is never accepted as a bearer token on the API', async () => {
    const res = await fetch(`${(await urls()).fhir}/Patient`, { headers: { Authorization: `Bearer ${String(tokens.id_token)}` } });
    expect(res.status).to.equal(401);
  });

  it("fhirUser names the user's Practitioner, and GET of that URL with the token answers it", async () => {
    const fhirUser = String(decodeJwt(String(tokens.id_token)).fhirUser);
    expect(fhirUser).to.equal(`${(await urls()).fhir}/Practitioner/${practitionerId}`);
    const res = await fetch(fhirUser, { headers: { Authorization: `Bearer ${String(tokens.access_token)}` } });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.include({ resourceType: 'Practitioner', id: practitionerId });
  });

  it("a public client's refresh without client_id works: the client is the one the refresh token was issued to", async () => {
    const { token, fhir } = await urls();
    const res = await postForm(token, { grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) });
    expect(res.status, res.text).to.equal(200);
    expect(res.json.refresh_token).to.be.a('string').and.not.equal(tokens.refresh_token);
    const access = String(res.json.access_token);
    expect(decodeJwt(access)).to.include({ client_id: clientId, sub: staff.user, clinic: staff.clinic });
    const read = await fetch(`${fhir}/Practitioner/${practitionerId}`, { headers: { Authorization: `Bearer ${access}` } });
    expect(read.status).to.equal(200);
    expect((await authEvents(staff.clinic, 'refresh')).some((e) => e.outcome === '0')).to.equal(true);
    tokens = { ...tokens, ...res.json };
    // The rotated refresh token refreshes again the same way.
    const again = await postForm(token, { grant_type: 'refresh_token', refresh_token: String(res.json.refresh_token) });
    expect(again.status, again.text).to.equal(200);
  });

  it('a refresh without client_id and an unknown or used token is a clear OAuth error, never a 500', async () => {
    const { token } = await urls();
    for (const refreshToken of ['no-such-token', 'x'.repeat(600)]) {
      const res = await postForm(token, { grant_type: 'refresh_token', refresh_token: refreshToken });
      expect(res.status, res.text).to.be.within(400, 401);
      expect(res.json.error).to.be.oneOf(['invalid_request', 'invalid_client', 'invalid_grant']);
    }
  });
});
