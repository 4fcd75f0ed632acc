import crypto from 'node:crypto';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { actor, admin, api, testServer, tokenFor } from '../helpers/server';

describe('Bearer token authentication', () => {
  let who: Awaited<ReturnType<typeof actor>>;
  before(async () => { who = await actor('doctor'); });

  async function expect401(headers: Record<string, string>) {
    const res = await (await api()).get('/fhir/Patient').set(headers);
    expect(res.status).to.equal(401);
    expect(res.headers['www-authenticate']).to.match(/^Bearer/);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    return res;
  }

  it('metadata needs no token; everything else does', async () => {
    const c = await api();
    const meta = await c.get('/fhir/metadata');
    expect(meta.status).to.equal(200);
    expect(meta.body.resourceType).to.equal('CapabilityStatement');
    await expect401({});
  });

  it('a valid token is accepted', async () => {
    expect((await (await api()).get('/fhir/Patient').set(who.auth)).status).to.equal(200);
  });

  it('an expired token gets 401 and, its user being known, an audited refusal', async () => {
    const s = await testServer();
    const token = await new SignJWT({ clinic: who.clinic, scope: 'user/*.cruds' })
      .setProtectedHeader({ alg: 'ES256', kid: s.keys[0].kid }).setIssuer(s.cfg.tokenIssuer).setAudience(s.cfg.tokenAudience)
      .setSubject(who.user).setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(s.keys[0].privateKey);
    await expect401({ Authorization: `Bearer ${token}` });
    const rows = await (await admin())('audit_event').where({ clinic_id: who.clinic }).whereLike('outcome_desc', 'token refused%');
    expect(rows.length).to.be.greaterThan(0);
  });

  it('a tampered token gets 401', async () => {
    const token = await tokenFor({ clinicId: who.clinic, userId: who.user, scope: 'user/*.cruds' });
    const [h, p, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.scope = 'system/*.cruds';
    await expect401({ Authorization: `Bearer ${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}` });
  });

  it("alg: none gets 401", async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const s = await testServer();
    const body = Buffer.from(JSON.stringify({ sub: who.user, clinic: who.clinic, scope: 'user/*.cruds', iss: s.cfg.tokenIssuer, aud: s.cfg.tokenAudience, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
    await expect401({ Authorization: `Bearer ${header}.${body}.` });
  });

  it('wrong issuer, wrong audience and a foreign key each get 401', async () => {
    const s = await testServer();
    const sign = (iss: string, aud: string, key = s.keys[0].privateKey, kid = s.keys[0].kid) => new SignJWT({ clinic: who.clinic, scope: 'user/*.cruds' })
      .setProtectedHeader({ alg: 'ES256', kid }).setIssuer(iss).setAudience(aud).setSubject(who.user).setIssuedAt().setExpirationTime('5m').sign(key);
    await expect401({ Authorization: `Bearer ${await sign('https://evil.example', s.cfg.tokenAudience)}` });
    await expect401({ Authorization: `Bearer ${await sign(s.cfg.tokenIssuer, 'https://other.example/fhir')}` });
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect401({ Authorization: `Bearer ${await sign(s.cfg.tokenIssuer, s.cfg.tokenAudience, privateKey)}` });
    await expect401({ Authorization: 'Bearer not-a-jwt' });
  });

  it('a token whose clinic claim is missing or not an id gets 401', async () => {
    const s = await testServer();
    const token = await new SignJWT({ scope: 'user/*.cruds', clinic: "x' or 1=1" })
      .setProtectedHeader({ alg: 'ES256', kid: s.keys[0].kid }).setIssuer(s.cfg.tokenIssuer).setAudience(s.cfg.tokenAudience)
      .setSubject(who.user).setIssuedAt().setExpirationTime('5m').sign(s.keys[0].privateKey);
    await expect401({ Authorization: `Bearer ${token}` });
  });

  it('the public signing key is served as a JWKS', async () => {
    const res = await (await api()).get('/.well-known/jwks.json');
    expect(res.status).to.equal(200);
    expect(res.body.keys[0]).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(res.body.keys[0]).to.not.have.property('d');
  });
});
