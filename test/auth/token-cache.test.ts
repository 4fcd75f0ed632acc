import { expect } from 'chai';
import { VerifiedTokenCache } from '../../server/auth/token-cache';
import type { AccessContext } from '../../server/auth/access-context';
import { admin, api, actor, patientBody } from '../helpers/server';
import { post } from '../helpers/resources';

const ctx = (userId = 'u'): AccessContext => ({ userId, clinicId: 'c', scopes: [], scopeText: '' });

describe('Verified-token cache', () => {
  it('serves a token until its TTL, and never past its exp', () => {
    const cache = new VerifiedTokenCache(10, 60_000);
    const now = 1_000_000_000_000;
    cache.set('long', ctx(), now / 1000 + 3600, now);
    cache.set('short', ctx(), now / 1000 + 5, now);
    expect(cache.get('long', now + 59_000)).to.not.equal(undefined);
    expect(cache.get('long', now + 60_000)).to.equal(undefined);
    expect(cache.get('short', now + 4_999)).to.not.equal(undefined);
    expect(cache.get('short', now + 5_000)).to.equal(undefined);
  });

  it('does not cache a token without a numeric exp, or one already expired', () => {
    const cache = new VerifiedTokenCache();
    const now = Date.now();
    cache.set('no-exp', ctx(), undefined, now);
    cache.set('text-exp', ctx(), String(now / 1000 + 60), now);
    cache.set('expired', ctx(), now / 1000 - 1, now);
    expect(cache.size).to.equal(0);
  });

  it('holds at most maxEntries, dropping the oldest first', () => {
    const cache = new VerifiedTokenCache(2);
    const exp = Date.now() / 1000 + 600;
    cache.set('a', ctx('a'), exp);
    cache.set('b', ctx('b'), exp);
    cache.set('c', ctx('c'), exp);
    expect(cache.size).to.equal(2);
    expect(cache.get('a')).to.equal(undefined);
    expect(cache.get('c')?.userId).to.equal('c');
  });

  it('hands out a frozen context: one request cannot change what the next one is granted', () => {
    const cache = new VerifiedTokenCache();
    cache.set('t', ctx(), Date.now() / 1000 + 600);
    const got = cache.get('t') as AccessContext;
    expect(Object.isFrozen(got)).to.equal(true);
    expect(Object.isFrozen(got.scopes)).to.equal(true);
  });

  it('a cached token that is revoked gets 401 on its next request, and the refusal is audited', async () => {
    const a = await actor('doctor');
    const created = await post(a.auth, 'Patient', patientBody('Revokee'));
    expect(created.status).to.equal(201);
    // The token is now verified and cached; revoking it must still end it at once.
    const jti = JSON.parse(Buffer.from(a.token.split('.')[1], 'base64url').toString()).jti as string;
    await (await admin())('oauth_revoked_token').insert({ jti, expires_at: new Date(Date.now() + 3_600_000) });
    const res = await (await api()).get(`/fhir/Patient/${created.body.id}`).set(a.auth);
    expect(res.status).to.equal(401);
    expect(res.headers['www-authenticate']).to.match(/^Bearer/);
    const rows = await (await admin())('audit_event').where({ clinic_id: a.clinic }).where({ outcome_desc: 'token refused: token revoked' });
    expect(rows).to.have.length(1);
  });
});
