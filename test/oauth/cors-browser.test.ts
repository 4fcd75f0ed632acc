import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { type Browser, chromium } from 'playwright-core';
import { mintAccessToken } from '../../server/auth/tokens';
import { chromiumPath } from '../helpers/chromium';
import { FHIR, newClinic, newUser, patientBody, testServer } from '../helpers/server';
import { oauthServer } from './helpers';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const FHIR_CLIENT = fs.readFileSync(require.resolve('fhirclient/build/fhir-client.js'), 'utf8');

interface PageAnswer { ok: boolean; id?: string; family?: string; etag?: string | null; lastModified?: string | null; error?: string }

describe('A SMART app page on another origin calls the API with fhirclient (headless Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let pageServer: http.Server;
  let pageOrigin: string;

  before(async function () {
    // The app's own origin: a page and the fhirclient bundle, on a port of its own.
    pageServer = http.createServer((req, res) => {
      if (req.url === '/fhir-client.js') { res.setHeader('Content-Type', 'text/javascript'); res.end(FHIR_CLIENT); return; }
      res.setHeader('Content-Type', 'text/html');
      res.end('<!doctype html><html><head><script src="/fhir-client.js"></script></head><body><h1>app</h1></body></html>');
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: await chromiumPath(), args: ARGS });
  });
  after(async () => {
    await browser?.close();
    if (pageServer) await new Promise<void>((resolve) => { pageServer.close(() => resolve()); pageServer.closeAllConnections(); });
  });

  it('reads a Patient cross-origin with a bearer token and sees its ETag and Last-Modified', async () => {
    const { url, cfg } = await oauthServer();
    const shared = await testServer();
    const clinic = await newClinic('Cors');
    const user = await newUser(clinic, 'doctor');
    const token = await mintAccessToken(shared.keys[0], { issuer: cfg.tokenIssuer, audience: cfg.tokenAudience, clinicClaim: cfg.clinicClaim }, { clinicId: clinic, userId: user, scope: 'user/*.cruds' });
    const created = await fetch(`${url}/fhir/Patient`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': FHIR }, body: JSON.stringify(patientBody('Crossorigin')) });
    expect(created.status).to.equal(201);
    const id = ((await created.json()) as { id: string }).id;
    expect(new URL(url).origin).to.not.equal(pageOrigin);

    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(`${pageOrigin}/`);
    const answer = await page.evaluate(async ({ serverUrl, accessToken, patientId }): Promise<PageAnswer> => {
      type Client = { request(o: { url: string; includeResponse: boolean }): Promise<{ body: { id: string; name: Array<{ family: string }> }; response: Response }> };
      const FHIR = (window as unknown as { FHIR: { client(s: unknown): Client } }).FHIR;
      try {
        const client = FHIR.client({ serverUrl, tokenResponse: { access_token: accessToken, token_type: 'bearer' } });
        const { body, response } = await client.request({ url: `Patient/${patientId}`, includeResponse: true });
        return { ok: true, id: body.id, family: body.name[0].family, etag: response.headers.get('etag'), lastModified: response.headers.get('last-modified') };
      } catch (e) {
        return { ok: false, error: String(e) };
      }
    }, { serverUrl: `${url}/fhir`, accessToken: token, patientId: id });
    await context.close();

    expect(answer, answer.error).to.include({ ok: true, id, family: 'Crossorigin', etag: 'W/"1"' });
    expect(answer.lastModified).to.be.a('string');
  });

  it('without a token the page gets the 401 itself, not a network error', async () => {
    const { url } = await oauthServer();
    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(`${pageOrigin}/`);
    const status = await page.evaluate(async (u) => (await fetch(`${u}/fhir/Patient`, { headers: { Accept: 'application/fhir+json' } })).status, url);
    await context.close();
    expect(status).to.equal(401);
  });
});
