import { SERVER_EVENTS_CLINIC } from '../../server/audit/record';
import crypto from 'node:crypto';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { loadConfig } from '../../server/config';
import { actor, admin, api, testServer } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;

/** A JWS signed with the server's key, header and claims exactly as given (jose refuses to sign an unknown `crit`). */
async function signRaw(header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> {
  const s = await testServer();
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'ES256', kid: s.keys[0].kid, typ: 'JWT', ...header })}.${enc(claims)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key: s.keys[0].privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

async function claimsFor(who: Actor, over: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const s = await testServer();
  const now = Math.floor(Date.now() / 1000);
  return { iss: s.cfg.tokenIssuer, aud: s.cfg.tokenAudience, sub: who.user, clinic: who.clinic, scope: 'user/*.cruds', iat: now, exp: now + 300, jti: crypto.randomUUID(), ...over };
}

/** Token refusals recorded in `clinicId` (null: the server-level events, from `since` on). */
async function refusalsIn(clinicId: string | null, since: Date): Promise<string[]> {
  const q = (await admin())('audit_event').where('last_updated', '>=', since.toISOString()).whereLike('outcome_desc', 'token refused%');
  const rows = await (clinicId === null ? q.where({ clinic_id: SERVER_EVENTS_CLINIC }) : q.where({ clinic_id: clinicId })).select('outcome_desc');
  return rows.map((r: { outcome_desc: string }) => r.outcome_desc);
}

async function status(token: string): Promise<{ status: number; text: string }> {
  const res = await (await api()).get('/fhir/Patient').set({ Authorization: `Bearer ${token}` });
  if (res.status === 401) expect(res.body.resourceType).to.equal('OperationOutcome');
  return res;
}

describe('Claims our own tokens must carry', () => {
  let who: Actor;
  // A clinic of its own per test: the refusals counted in it are that test's only.
  beforeEach(async () => { who = await actor('doctor'); });

  it('a well-formed token of ours is accepted (the signing here is right)', async () => {
    expect((await status(await signRaw({}, await claimsFor(who)))).status).to.equal(200);
  });

  it('a token of ours without exp gets 401, audited in its clinic', async () => {
    const since = new Date(Date.now() - 1000);
    const claims = await claimsFor(who);
    delete claims.exp;
    const res = await status(await signRaw({}, claims));
    expect(res.status).to.equal(401);
    expect(res.text).to.match(/no exp claim/);
    expect(await refusalsIn(who.clinic, since)).to.deep.equal(['token refused: token has no exp claim']);
  });

  it('a token of ours living longer than MAX_TOKEN_LIFETIME gets 401, audited; one at the maximum is accepted', async () => {
    const s = await testServer();
    const max = s.cfg.maxTokenLifetime;
    const now = Math.floor(Date.now() / 1000);
    expect((await status(await signRaw({}, await claimsFor(who, { iat: now, exp: now + max })))).status).to.equal(200);
    const since = new Date(Date.now() - 1000);
    const tooLong = await status(await signRaw({}, await claimsFor(who, { iat: now, exp: now + max + 3600 })));
    expect(tooLong.status).to.equal(401);
    expect(tooLong.text).to.match(/lifetime/);
    // A missing or future iat does not stretch the lifetime: it counts from now.
    const noIat = await claimsFor(who, { exp: now + max + 3600 });
    delete noIat.iat;
    expect((await status(await signRaw({}, noIat))).status).to.equal(401);
    expect((await status(await signRaw({}, await claimsFor(who, { iat: now + max, exp: now + max + 60 })))).status).to.equal(401);
    expect(await refusalsIn(who.clinic, since)).to.have.length(3);
  });

  it('a crit header gets 401, and its unverified claims do not put the refusal in the clinic they name', async () => {
    const since = new Date(Date.now() - 1000);
    const res = await status(await signRaw({ crit: ['exp-check'], 'exp-check': true }, await claimsFor(who)));
    expect(res.status).to.equal(401);
    expect(res.text).to.match(/critical header/);
    expect(await refusalsIn(who.clinic, since)).to.deep.equal([]);
    expect(await refusalsIn(null, since)).to.include('token refused: unsupported critical header');
  });

  it("a token from an unknown issuer writes no AuditEvent into the clinic it claims", async () => {
    const since = new Date(Date.now() - 1000);
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await new SignJWT({ clinic: who.clinic, scope: 'user/*.cruds' })
      .setProtectedHeader({ alg: 'ES256', kid: 'forged' }).setIssuer('https://evil.example').setAudience((await testServer()).cfg.tokenAudience)
      .setSubject(who.user).setIssuedAt().setExpirationTime('5m').sign(privateKey);
    expect((await status(forged)).status).to.equal(401);
    expect(await refusalsIn(who.clinic, since)).to.deep.equal([]);
    expect(await refusalsIn(null, since)).to.include('token refused: unknown issuer');
  });

  it('MAX_TOKEN_LIFETIME is validated at start and may not be shorter than the token lifetimes the server issues', () => {
    expect(loadConfig({}).maxTokenLifetime).to.equal(86_400);
    expect(loadConfig({ MAX_TOKEN_LIFETIME: '3600' }).maxTokenLifetime).to.equal(3600);
    expect(() => loadConfig({ MAX_TOKEN_LIFETIME: '10' })).to.throw(/MAX_TOKEN_LIFETIME/);
    expect(() => loadConfig({ MAX_TOKEN_LIFETIME: '600', ACCESS_TOKEN_TTL: '900' })).to.throw(/MAX_TOKEN_LIFETIME=600 is shorter/);
  });
});
