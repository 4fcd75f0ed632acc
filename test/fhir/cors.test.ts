import { expect } from 'chai';
import supertest from 'supertest';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { actor, api, FHIR, patientBody, testServer } from '../helpers/server';

const APP = 'https://app.example.org';

/** An app on the shared database with its own CORS_ORIGINS. */
async function appWith(origins: string): Promise<supertest.Agent> {
  const s = await testServer();
  const cfg = loadConfig({ DATA_DIR: s.cfg.dataDir, PORT: '0', LOG_LEVEL: 'silent', BASE_URL: 'http://fhir.test', CORS_ORIGINS: origins });
  return supertest.agent(createApp({ cfg, db: s.db.runtime, keys: s.keyRing, oauthSecrets: s.oauthSecrets, pageSecret: 'p'.repeat(32) }));
}

describe('CORS for browser apps on other origins', () => {
  it('a preflight of a FHIR write answers 204 without a token, allowing the FHIR headers and no credentials', async () => {
    const res = await (await api()).options('/fhir/Patient')
      .set('Origin', APP).set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'authorization, content-type, if-match');
    expect(res.status).to.equal(204);
    expect(res.headers['access-control-allow-origin']).to.equal('*');
    expect(res.headers['access-control-allow-methods']).to.include('PUT');
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
    for (const h of ['authorization', 'content-type', 'prefer', 'if-match', 'if-none-match', 'if-none-exist', 'if-modified-since']) expect(allowed).to.include(h);
    expect(res.headers).to.not.have.property('access-control-allow-credentials');
  });

  it('an API answer to another origin exposes Location, ETag, Content-Location and Last-Modified', async () => {
    const a = await actor('doctor');
    const res = await (await api()).post('/fhir/Patient').set(a.auth).set('Origin', APP).set('Content-Type', FHIR).send(patientBody('Cors'));
    expect(res.status).to.equal(201);
    expect(res.headers['access-control-allow-origin']).to.equal('*');
    const exposed = String(res.headers['access-control-expose-headers']);
    for (const h of ['Location', 'ETag', 'Content-Location', 'Last-Modified', 'X-Progress', 'Retry-After']) expect(exposed).to.include(h);
    expect(res.headers).to.not.have.property('access-control-allow-credentials');
  });

  it('a request without a token from another origin still gets its 401 readable by the page', async () => {
    const res = await (await api()).get('/fhir/Patient').set('Origin', APP);
    expect(res.status).to.equal(401);
    expect(res.headers['access-control-allow-origin']).to.equal('*');
  });

  it('the discovery documents, the keys and the token endpoint answer other origins', async () => {
    const agent = await api();
    for (const path of ['/fhir/.well-known/smart-configuration', '/.well-known/jwks.json', '/oidc/.well-known/openid-configuration', '/oidc/jwks']) {
      const res = await agent.get(path).set('Origin', APP);
      expect(res.status, path).to.equal(200);
      expect(res.headers['access-control-allow-origin'], path).to.equal('*');
    }
    const pre = await agent.options('/oidc/token').set('Origin', APP).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'content-type');
    expect(pre.status).to.equal(204);
    expect(pre.headers['access-control-allow-origin']).to.equal('*');
    const token = await agent.post('/oidc/token').set('Origin', APP).type('form').send({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: 'nope' });
    expect(token.status).to.be.within(400, 401);
    expect(token.headers['access-control-allow-origin']).to.equal('*');
  });

  it('the authorization endpoint and the sign-in pages stay same-origin (no CORS headers)', async () => {
    const agent = await api();
    const auth = await agent.get('/oidc/auth?client_id=x&response_type=code').set('Origin', APP);
    expect(auth.headers).to.not.have.property('access-control-allow-origin');
    const pre = await agent.options('/oidc/auth').set('Origin', APP).set('Access-Control-Request-Method', 'POST');
    expect(pre.headers).to.not.have.property('access-control-allow-origin');
    const page = await agent.get('/oauth/interaction/unknown').set('Origin', APP);
    expect(page.headers).to.not.have.property('access-control-allow-origin');
  });

  it('with CORS_ORIGINS set, a listed origin is answered by name and any other gets no CORS headers', async () => {
    const agent = await appWith(`${APP}, http://localhost:3000`);
    const listed = await agent.options('/fhir/Patient').set('Origin', APP).set('Access-Control-Request-Method', 'GET');
    expect(listed.status).to.equal(204);
    expect(listed.headers['access-control-allow-origin']).to.equal(APP);
    expect(String(listed.headers.vary)).to.include('Origin');
    const other = await agent.options('/fhir/Patient').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'GET');
    expect(other.headers).to.not.have.property('access-control-allow-origin');
    const discovery = await agent.get('/oidc/.well-known/openid-configuration').set('Origin', 'https://evil.example');
    expect(discovery.status).to.equal(200);
    expect(discovery.headers).to.not.have.property('access-control-allow-origin');
  });

  it('a CORS_ORIGINS entry that is not an origin stops the start with a message naming it', () => {
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.org/path' })).to.throw(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: 'not a url' })).to.throw(/CORS_ORIGINS/);
    expect(loadConfig({ CORS_ORIGINS: 'none' }).corsOrigins).to.deep.equal([]);
  });
});
