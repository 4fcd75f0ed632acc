import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { mintAccessToken } from '../../server/auth/tokens';
import { startServer, type RunningServer } from '../../server/boot';
import { loadConfig } from '../../server/config';
import { masterKeyPath } from '../../server/oauth/secret-box';
import { rotateSigningKey } from '../../server/oauth/signing-keys';
import { admin, FHIR, newClinic, newUser, patientBody, testServer } from '../helpers/server';
import { postForm, publicClient, staffFixture } from '../oauth/helpers';
import { consent, ScriptedBrowser, signInPage } from '../oauth/scripted-browser';

/** A load balancer the test steers: every request goes to the node `to` names, Host kept as the public one. */
async function balancer() {
  const nodes: RunningServer[] = [];
  let to = 0;
  const server = http.createServer((req, res) => {
    const target = new URL(nodes[to].url);
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    nodes, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    route: (i: number) => { to = i; },
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

/**
 * A node as a deployment runs it: its own DATA_DIR (nothing shared on disk), the one database by
 * DATABASE_URL, the sealing key from SECRETS_KEY, the public BASE_URL of the load balancer.
 */
async function startNode(baseUrl: string): Promise<{ node: RunningServer; dataDir: string }> {
  const shared = await testServer();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-node-'));
  const cfg = loadConfig({
    DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', BASE_URL: baseUrl, DB_POOL_MAX: '4',
    DATABASE_URL: shared.db.adminUrl,
    DB_RUNTIME_PASSWORD: fs.readFileSync(path.join(shared.cfg.dataDir, 'secrets', 'db-runtime-password'), 'utf8').trim(),
    SECRETS_KEY: fs.readFileSync(masterKeyPath(shared.cfg.dataDir), 'utf8').trim(),
  });
  return { node: await startServer(cfg, { background: false }), dataDir };
}

describe('Many nodes on one database: tokens, paging links, sign-in, key rotation and revocation work across them', function () {
  this.timeout(120_000);
  let lb: Awaited<ReturnType<typeof balancer>>;
  const dirs: string[] = [];
  const get = (p: string, token: string) => fetch(`${lb.url}${p}`, { headers: { Authorization: `Bearer ${token}`, Accept: FHIR } });

  before(async () => {
    lb = await balancer();
    for (let i = 0; i < 2; i++) {
      const { node, dataDir } = await startNode(lb.url);
      lb.nodes.push(node);
      dirs.push(dataDir);
    }
  });
  after(async () => {
    for (const n of lb?.nodes ?? []) await n.close();
    await lb?.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const mintOn = (i: number, clinicId: string, userId: string) => {
    const n = lb.nodes[i];
    return mintAccessToken(n.keyRing.signing(), { issuer: n.cfg.tokenIssuer, audience: n.cfg.tokenAudience, clinicClaim: n.cfg.clinicClaim }, { clinicId, userId, scope: 'user/*.cruds' });
  };

  it('a token signed by node 1 is accepted by node 2, and a search paging link from node 1 pages on node 2', async () => {
    const clinic = await newClinic('Nodes');
    const token = await mintOn(0, clinic, await newUser(clinic, 'doctor'));
    lb.route(0);
    for (const family of ['Avery', 'Brook', 'Carter']) {
      const res = await fetch(`${lb.url}/fhir/Patient`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': FHIR }, body: JSON.stringify(patientBody(family)) });
      expect(res.status).to.equal(201);
    }
    const first = await (await get('/fhir/Patient?_count=1', token)).json() as { link: Array<{ relation: string; url: string }>; entry: Array<{ resource: { id: string } }> };
    const next = first.link.find((l) => l.relation === 'next')!.url;
    expect(next.startsWith(`${lb.url}/fhir/Patient?`)).to.equal(true);

    lb.route(1);
    expect((await get('/fhir/Patient?_count=1', token)).status).to.equal(200);
    const page = await fetch(next, { headers: { Authorization: `Bearer ${token}`, Accept: FHIR } });
    expect(page.status, await page.clone().text()).to.equal(200);
    const second = await page.json() as { entry: Array<{ resource: { id: string } }> };
    expect(second.entry).to.have.length(1);
    expect(second.entry[0].resource.id).to.not.equal(first.entry[0].resource.id);
    // A forged page value is refused on either node: the secret is shared, not absent.
    const forged = next.replace(/_page=[^&]+/, `_page=${crypto.randomBytes(24).toString('base64url')}`);
    expect((await fetch(forged, { headers: { Authorization: `Bearer ${token}`, Accept: FHIR } })).status).to.be.within(400, 499);
  });

  it('a SMART sign-in started on node 1 finishes on node 2; a token revoked on node 1 is refused by node 2', async () => {
    const staff = await staffFixture('doctor');
    const redirect = 'https://app.example/cb';
    const clientId = await publicClient(staff.clinic, redirect);
    const verifier = crypto.randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: redirect, scope: 'openid fhirUser launch/patient patient/Patient.rs',
      state: 'nodes', aud: `${lb.url}/fhir`, code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    });
    const browser = new ScriptedBrowser();
    const atApp = (u: string) => u.startsWith(redirect);
    lb.route(0);
    const signIn = await browser.follow(`${lb.url}/oidc/auth?${q}`, atApp);
    expect(signIn.text).to.include('name="password"');

    lb.route(1);
    const consentPage = await signInPage(browser, signIn, staff, { stop: atApp });
    expect(consentPage.text, consentPage.text.slice(0, 300)).to.include('Allow access?');
    const done = await consent(browser, consentPage, { patient: staff.patients[0], stop: atApp });
    const code = new URL(done.url).searchParams.get('code');
    expect(code, done.text.slice(0, 300)).to.be.a('string');
    const token = await postForm(`${lb.url}/oidc/token`, { grant_type: 'authorization_code', code: code!, redirect_uri: redirect, client_id: clientId, code_verifier: verifier });
    expect(token.status, token.text).to.equal(200);
    const access = String(token.json.access_token);

    lb.route(0);
    expect((await get(`/fhir/Patient/${staff.patients[0]}`, access)).status).to.equal(200);
    expect((await postForm(`${lb.url}/oidc/token/revocation`, { token: access, client_id: clientId })).status).to.equal(200);
    lb.route(1);
    expect((await get(`/fhir/Patient/${staff.patients[0]}`, access)).status).to.equal(401);
  });

  it('a signing key rotated through node 1 is published and honoured by node 2 after its reload', async () => {
    const clinic = await newClinic('Rotation');
    const user = await newUser(clinic, 'doctor');
    const before = lb.nodes[0].keyRing.signing().kid;
    const { kid } = await rotateSigningKey(await admin(), 0);
    expect(await lb.nodes[0].keyRing.reload()).to.equal(true);
    expect(lb.nodes[0].keyRing.signing().kid).to.equal(kid).and.not.equal(before);
    const token = await mintOn(0, clinic, user);

    await lb.nodes[1].keyRing.reload(); // what its timer does every minute (and an unknown kid triggers)
    lb.route(1);
    const jwks = await (await fetch(`${lb.url}/oidc/jwks`)).json() as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).to.include.members([kid, before]);
    expect((await get('/fhir/Patient', token)).status).to.equal(200);
    expect(lb.nodes[1].keyRing.signing().kid).to.equal(kid);
  });
});
