import { expect } from 'chai';
import supertest from 'supertest';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { auditOf } from '../helpers/audit';
import { actor, testServer } from '../helpers/server';

const WINDOW_S = 3;
const PER_USER = 5;
const PER_ADDRESS = 4;

/** An app on the shared database with small limits, so the tests reach them in a few requests. */
async function limitedApp() {
  const shared = await testServer();
  const cfg = loadConfig({
    DATA_DIR: shared.cfg.dataDir, LOG_LEVEL: 'silent', BASE_URL: shared.cfg.baseUrl,
    RATE_LIMIT_PER_USER: String(PER_USER), RATE_LIMIT_PER_ADDRESS: String(PER_ADDRESS), RATE_LIMIT_WINDOW: String(WINDOW_S),
  });
  return supertest.agent(createApp({ cfg, db: shared.db.runtime, keys: shared.keyRing, oauthSecrets: shared.oauthSecrets, pageSecret: 'p'.repeat(32) }));
}

/** Waits for the start of the next window (windows are aligned to the clock), so a burst fits in one. */
const freshWindow = () => new Promise((r) => setTimeout(r, WINDOW_S * 1000 - (Date.now() % (WINDOW_S * 1000)) + 20));

let addressCounter = 1;
const address = () => `203.0.113.${addressCounter++}`;

describe('API rate limits (per user or client, and per source address before authentication)', () => {
  let agent: supertest.Agent;
  before(async () => { agent = await limitedApp(); });

  it('a user over the limit gets 429 OperationOutcome with Retry-After and RateLimit headers, another user is not affected, and the next window lets the user in again', async () => {
    const a = await actor('doctor');
    const b = await actor('doctor', 'user/*.cruds', a.clinic);
    await freshWindow();
    const remaining: string[] = [];
    for (let i = 0; i < PER_USER; i++) {
      const r = await agent.get('/fhir/Patient').set(a.auth).set('X-Forwarded-For', address());
      expect(r.status, r.text).to.equal(200);
      remaining.push(r.headers['ratelimit-remaining']);
    }
    expect(remaining).to.deep.equal(['4', '3', '2', '1', '0']);
    const refused = await agent.get('/fhir/Patient').set(a.auth);
    expect(refused.status).to.equal(429);
    expect(refused.body.resourceType).to.equal('OperationOutcome');
    expect(refused.body.issue[0].code).to.equal('throttled');
    expect(refused.headers['ratelimit-limit']).to.equal(String(PER_USER));
    expect(refused.headers['ratelimit-remaining']).to.equal('0');
    expect(refused.headers['ratelimit-policy']).to.equal(`${PER_USER};w=${WINDOW_S}`);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).to.be.within(1, WINDOW_S);
    expect(refused.headers['ratelimit-reset']).to.equal(String(retryAfter));

    // The other user of the same clinic, from the same process, is served.
    expect((await agent.get('/fhir/Patient').set(b.auth)).status).to.equal(200);

    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 50));
    const again = await agent.get('/fhir/Patient').set(a.auth);
    expect(again.status).to.equal(200);
    expect(again.headers['ratelimit-remaining']).to.equal(String(PER_USER - 1));
  });

  it('the 429 of a known user is audited with outcome 4 in the user\'s clinic', async () => {
    const a = await actor('nurse');
    await freshWindow();
    for (let i = 0; i < PER_USER; i++) expect((await agent.get('/fhir/Patient').set(a.auth)).status).to.equal(200);
    expect((await agent.get('/fhir/Patient').set(a.auth)).status).to.equal(429);
    await new Promise((r) => setTimeout(r, 100)); // the refusal's audit is written before the response, but give the row a moment
    const refusals = (await auditOf(a.user)).filter((e) => e.outcome === '4');
    expect(refusals).to.have.length(1);
    expect(refusals[0].outcomeDesc).to.match(/Too many requests for this user or client/);
  });

  it('unauthenticated requests from one address are limited per address; other addresses and authenticated requests are not', async () => {
    const a = await actor('doctor');
    const nat = address();
    await freshWindow();
    // Authenticated requests from the address do not use its budget...
    for (let i = 0; i < PER_ADDRESS; i++) expect((await agent.get('/fhir/Patient').set(a.auth).set('X-Forwarded-For', nat)).status).to.equal(200);
    // ...unauthenticated ones do, and the one over it is refused before the token is looked at.
    for (let i = 0; i < PER_ADDRESS; i++) expect((await agent.get('/fhir/Patient').set('X-Forwarded-For', nat)).status).to.equal(401);
    const refused = await agent.get('/fhir/Patient').set('Authorization', 'Bearer not.a.token').set('X-Forwarded-For', nat);
    expect(refused.status).to.equal(429);
    expect(refused.body.issue[0].code).to.equal('throttled');
    expect(refused.headers['retry-after']).to.match(/^[1-9]\d*$/);
    expect(refused.headers['ratelimit-limit']).to.equal(String(PER_ADDRESS));
    expect((await agent.get('/fhir/Patient').set('X-Forwarded-For', address())).status).to.equal(401);
  });

  it('0 disables a limit, and a negative or non-numeric limit stops the server with the setting named', () => {
    const off = loadConfig({ RATE_LIMIT_PER_USER: '0', RATE_LIMIT_PER_ADDRESS: '0' });
    expect(off.rateLimit).to.include({ perUser: 0, perAddress: 0 });
    expect(() => loadConfig({ RATE_LIMIT_PER_USER: '-1' })).to.throw(/RATE_LIMIT_PER_USER=-1 is invalid/);
    expect(() => loadConfig({ RATE_LIMIT_PER_ADDRESS: 'lots' })).to.throw(/RATE_LIMIT_PER_ADDRESS=lots is invalid/);
    expect(() => loadConfig({ RATE_LIMIT_WINDOW: '0' })).to.throw(/RATE_LIMIT_WINDOW=0 is invalid/);
    expect(() => loadConfig({ SIGNIN_ADDRESS_LIMIT: '2' })).to.throw(/SIGNIN_ADDRESS_LIMIT=2 is invalid/);
  });
});
