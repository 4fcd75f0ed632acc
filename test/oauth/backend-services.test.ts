import { expect } from 'chai';
import { generateKeyPair } from 'jose';
import { setClientDisabled } from '../../server/admin/oauth';
import { admin, newClinic } from '../helpers/server';
import { ASSERTION_TYPE, authEvents, backendClient, decodeJwt, postForm, urls } from './helpers';

/** Runs `fn` with the process clock `seconds` ahead: the in-process verifier sees a later time. */
async function later<T>(seconds: number, fn: () => Promise<T>): Promise<T> {
  const real = Date.now;
  Date.now = () => real() + seconds * 1000;
  try { return await fn(); } finally { Date.now = real; }
}

describe('SMART Backend Services (client_credentials with private_key_jwt)', () => {
  let clinic: string;
  let es: Awaited<ReturnType<typeof backendClient>>;

  before(async () => {
    clinic = await newClinic('Backend');
    es = await backendClient(clinic);
  });

  const tokenRequest = async (assertion: string, scope = 'system/Patient.rs', extra: Record<string, string> = {}) =>
    postForm((await urls()).token, { grant_type: 'client_credentials', scope, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...extra });

  it('an ES384 assertion gets a 5-minute system token that reads the clinic and then expires', async () => {
    const res = await tokenRequest(await es.assertion(), 'system/Patient.rs');
    expect(res.status, res.text).to.equal(200);
    expect(res.json).to.include({ token_type: 'Bearer', expires_in: 300, scope: 'system/Patient.rs' });
    const token = res.json.access_token as string;
    const claims = decodeJwt(token);
    expect(claims).to.include({ sub: es.clientId, client_id: es.clientId, clinic, scope: 'system/Patient.rs' });
    expect((claims.exp as number) - (claims.iat as number)).to.equal(300);

    const { fhir } = await urls();
    const read = await fetch(`${fhir}/Patient`, { headers: { Authorization: `Bearer ${token}` } });
    expect(read.status).to.equal(200);
    const expired = await later(310, () => fetch(`${fhir}/Patient`, { headers: { Authorization: `Bearer ${token}` } }));
    expect(expired.status).to.equal(401);

    const issued = await authEvents(clinic, 'token');
    expect(issued.some((e) => e.outcome === '0' && e.event.entity?.some((x) => x.detail?.some((d) => d.valueString === 'system/Patient.rs')))).to.equal(true);
  });

  it('an RS384 assertion works too', async () => {
    const rs = await backendClient(clinic, { alg: 'RS384' });
    const res = await tokenRequest(await rs.assertion());
    expect(res.status, res.text).to.equal(200);
  });

  it('the system token is capped by the role the client holds at its clinic', async () => {
    const frontDesk = await backendClient(clinic, { role: 'front-desk', scope: 'system/MedicationRequest.rs' });
    const res = await tokenRequest(await frontDesk.assertion(), 'system/MedicationRequest.rs');
    expect(res.status, res.text).to.equal(200);
    const read = await fetch(`${(await urls()).fhir}/MedicationRequest`, { headers: { Authorization: `Bearer ${res.json.access_token}` } });
    expect(read.status).to.equal(403);
  });

  describe('refusals: the right OAuth error, never a 500, and each in the audit trail', () => {
    const cases: Array<[string, () => Promise<{ status: number; json: Record<string, unknown> }>, number, string, RegExp]> = [
      ['a replayed assertion', async () => {
        const a = await es.assertion();
        expect((await tokenRequest(a)).status).to.equal(200);
        return tokenRequest(a);
      }, 401, 'invalid_client', /only be used once/],
      ['an assertion signed by a key the client did not register', async () => {
        const { privateKey } = await generateKeyPair('ES384');
        return tokenRequest(await es.assertion({ key: privateKey }));
      }, 401, 'invalid_client', /invalid_client/],
      ['an assertion expiring more than 5 minutes ahead', async () =>
        tokenRequest(await es.assertion({ exp: Math.floor(Date.now() / 1000) + 600 })), 401, 'invalid_client', /at most 5 minutes/],
      ['an assertion whose aud is not the token URL', async () =>
        tokenRequest(await es.assertion({ aud: (await urls()).base })), 401, 'invalid_client', /audience/],
      ['an assertion whose sub is not the client', async () =>
        tokenRequest(await es.assertion({ sub: crypto.randomUUID() })), 401, 'invalid_client', /invalid_client/],
      ['an expired assertion', async () =>
        tokenRequest(await es.assertion({ exp: Math.floor(Date.now() / 1000) - 60 })), 401, 'invalid_client', /invalid_client/],
      ['a malformed assertion', async () => tokenRequest('not.a.jwt'), 400, 'invalid_request', /client_assertion format/],
      ['a scope beyond the registration', async () =>
        tokenRequest(await es.assertion(), 'system/MedicationRequest.rs'), 400, 'invalid_scope', /system\/MedicationRequest\.rs/],
      ['a user/ scope over client_credentials', async () =>
        tokenRequest(await es.assertion(), 'user/Patient.rs'), 400, 'invalid_scope', /invalid_scope/],
      ['no scope at all', async () => tokenRequest(await es.assertion(), ''), 400, 'invalid_scope', /scope is required/],
      ['an unsupported grant type', async () =>
        tokenRequest(await es.assertion(), 'system/Patient.rs', { grant_type: 'password' }), 400, 'unsupported_grant_type', /unsupported_grant_type/],
      ['a grant type the client is not registered for', async () =>
        tokenRequest(await es.assertion(), 'system/Patient.rs', { grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://app.example/cb' }), 400, 'unauthorized_client', /not allowed/],
    ];
    for (const [what, run, status, error, audited] of cases) {
      it(`${what} gets ${status} ${error}`, async () => {
        const res = await run();
        expect(res.status, JSON.stringify(res.json)).to.equal(status);
        expect(res.json.error).to.equal(error);
        // A request that names no known client (unknown sub, unreadable assertion) is a server-level event.
        const refusals = [...await authEvents(clinic, 'token'), ...await authEvents(null, 'token')];
        expect(refusals.some((e) => e.outcome === '4' && audited.test(e.reason)), JSON.stringify(refusals.filter((r) => r.outcome !== '0').map((r) => r.reason))).to.equal(true);
      });
    }
  });

  it('a disabled client gets invalid_client and its outstanding token stops working', async () => {
    const c = await backendClient(clinic);
    const res = await tokenRequest(await c.assertion());
    expect(res.status).to.equal(200);
    await setClientDisabled(await admin(), c.clientId, true);
    const again = await tokenRequest(await c.assertion());
    expect(again.status).to.equal(401);
    expect(again.json.error).to.equal('invalid_client');
    const read = await fetch(`${(await urls()).fhir}/Patient`, { headers: { Authorization: `Bearer ${res.json.access_token}` } });
    expect(read.status).to.be.oneOf([401, 403]);
  });

  it('introspection shows the token to its client; revocation ends it at the FHIR API at once', async () => {
    const { introspect, revoke, fhir } = await urls();
    const res = await tokenRequest(await es.assertion());
    const token = res.json.access_token as string;
    const auth = async () => ({ client_assertion_type: ASSERTION_TYPE, client_assertion: await es.assertion() });
    const info = await postForm(introspect, { token, ...(await auth()) });
    expect(info.status, info.text).to.equal(200);
    expect(info.json).to.include({ active: true, client_id: es.clientId, scope: 'system/Patient.rs', clinic });
    expect(info.json.exp).to.be.a('number');

    const revoked = await postForm(revoke, { token, ...(await auth()) });
    expect(revoked.status, revoked.text).to.equal(200);
    const read = await fetch(`${fhir}/Patient`, { headers: { Authorization: `Bearer ${token}` } });
    expect(read.status).to.equal(401);
    expect((await postForm(introspect, { token, ...(await auth()) })).json).to.deep.equal({ active: false });
    expect((await authEvents(clinic, 'revoke')).some((e) => e.outcome === '0')).to.equal(true);
  });
});
