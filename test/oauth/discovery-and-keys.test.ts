import { expect } from 'chai';
import type { CapabilityStatement } from 'fhir/r4';
import { rotateSigningKey } from '../../server/oauth/signing-keys';
import { admin, testServer } from '../helpers/server';
import { ASSERTION_TYPE, auditTrail, backendClient, decodeJwt, postForm, staffFixture, urls } from './helpers';

describe('SMART discovery, the CapabilityStatement security section, and signing keys', () => {
  it('GET /fhir/.well-known/smart-configuration lists the endpoints, PKCE S256 and only working capabilities', async () => {
    const u = await urls();
    const res = await fetch(`${u.fhir}/.well-known/smart-configuration`);
    expect(res.status).to.equal(200);
    const doc = await res.json() as Record<string, unknown>;
    expect(doc).to.include({
      issuer: u.base, authorization_endpoint: u.authorize, token_endpoint: u.token,
      introspection_endpoint: u.introspect, revocation_endpoint: u.revoke, jwks_uri: `${u.base}/.well-known/jwks.json`,
    });
    expect(doc.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(doc.grant_types_supported).to.have.members(['authorization_code', 'client_credentials', 'refresh_token']);
    expect(doc.token_endpoint_auth_methods_supported).to.have.members(['private_key_jwt', 'none']);
    expect(doc.token_endpoint_auth_signing_alg_values_supported).to.have.members(['RS384', 'ES384']);
    expect(doc.scopes_supported).to.include.members(['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'system/*.rs']);
    expect(doc.capabilities).to.have.members([
      'launch-ehr', 'launch-standalone', 'client-public', 'client-confidential-asymmetric', 'context-standalone-patient',
      'context-ehr-patient', 'permission-patient', 'permission-user', 'permission-v1', 'permission-v2', 'permission-offline', 'sso-openid-connect',
    ]);
  });

  it('the CapabilityStatement names the same OAuth endpoints', async () => {
    const u = await urls();
    const cs = await (await fetch(`${u.fhir}/metadata`)).json() as CapabilityStatement;
    const security = cs.rest?.[0].security;
    expect(security?.service?.[0].coding?.[0].code).to.equal('SMART-on-FHIR');
    const uris = Object.fromEntries((security?.extension?.[0].extension ?? []).map((e) => [e.url, e.valueUri]));
    expect(uris).to.deep.equal({ authorize: u.authorize, token: u.token, introspect: u.introspect, revoke: u.revoke });
  });

  it('keys rotate without downtime: the JWKS serves old and new, old tokens keep working, new ones carry the new kid', async () => {
    const s = await testServer();
    const clinic = (await staffFixture('doctor')).clinic;
    const client = await backendClient(clinic);
    const issue = async () => (await postForm((await urls()).token, { grant_type: 'client_credentials', scope: 'system/Patient.rs', client_assertion_type: ASSERTION_TYPE, client_assertion: await client.assertion() })).json.access_token as string;
    const before = await issue();
    const oldKid = (JSON.parse(Buffer.from(before.split('.')[0], 'base64url').toString()) as { kid: string }).kid;

    const rotated = await rotateSigningKey(await admin(), 0);
    expect(rotated.retiring).to.include(oldKid);
    await s.keyRing.reload();
    const jwks = await (await fetch(`${(await urls()).base}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string; d?: string }> };
    expect(jwks.keys.map((k) => k.kid)).to.include.members([oldKid, rotated.kid]);
    expect(jwks.keys.every((k) => k.d === undefined)).to.equal(true);

    const after = await issue();
    expect((JSON.parse(Buffer.from(after.split('.')[0], 'base64url').toString()) as { kid: string }).kid).to.equal(rotated.kid);
    for (const token of [before, after]) {
      const res = await fetch(`${(await urls()).fhir}/Patient`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).to.equal(200);
    }
    expect(decodeJwt(after).clinic).to.equal(clinic);
    // Every later test mints with the shared server's first key: it stays published (retire_at is an hour away).
    expect((await auditTrail(clinic)).length).to.be.greaterThan(0);
  });
});
