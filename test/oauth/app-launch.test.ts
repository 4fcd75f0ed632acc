import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import smart from 'fhirclient';
import type { fhirclient } from 'fhirclient/lib/types';
import { mintAccessToken } from '../../server/auth/tokens';
import { testServer } from '../helpers/server';
import { authEvents, decodeJwt, oauthServer, publicClient, staffFixture, urls } from './helpers';
import { consent, ScriptedBrowser, signInPage } from './scripted-browser';

/** A SMART app built on the `fhirclient` library: /launch starts, /callback finishes and reads the patient. */
async function smartApp(defaultScope: string) {
  let clientId = '';
  const store = new Map<string, unknown>();
  const storage: fhirclient.Storage = {
    get: async (k: string) => store.get(k),
    set: async (k: string, v: unknown) => { store.set(k, v); return v; },
    unset: async (k: string) => store.delete(k),
  };
  const { fhir } = await urls();
  const app = express();
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  app.get('/launch', async (req, res) => {
    const scope = typeof req.query.scope === 'string' ? req.query.scope : defaultScope;
    await smart(req, res, storage).authorize({ clientId, scope, redirectUri: `${origin}/callback`, iss: typeof req.query.iss === 'string' ? req.query.iss : fhir, pkceMode: 'required' });
  });
  app.get('/callback', async (req, res) => {
    try {
      const client = await smart(req, res, storage).ready();
      const patient = client.patient.id ? await client.patient.read() : undefined;
      res.json({ patient, token: client.state.tokenResponse });
    } catch (err) {
      res.status(500).json({ error: err instanceof Error ? err.message : String(err) });
    }
  });
  return { origin, callback: `${origin}/callback`, setClient: (id: string) => { clientId = id; }, close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) };
}

describe('SMART App Launch with the fhirclient library', () => {
  const SCOPE = 'openid fhirUser launch/patient offline_access patient/Patient.rs';
  let staff: Awaited<ReturnType<typeof staffFixture>>;
  let app: Awaited<ReturnType<typeof smartApp>>;
  let clientId: string;

  before(async () => {
    staff = await staffFixture('doctor');
    app = await smartApp(SCOPE);
    clientId = await publicClient(staff.clinic, app.callback);
    app.setClient(clientId);
  });
  after(async () => app.close());

  it('standalone launch: sign-in with password and TOTP, pick a patient, consent, and the app reads that patient', async () => {
    const browser = new ScriptedBrowser();
    const login = await browser.follow(`${app.origin}/launch`);
    expect(login.status).to.equal(200);
    expect(login.text).to.include('name="password"');
    const consentPage = await signInPage(browser, login, staff);
    expect(consentPage.text).to.include('Allow access?');
    expect(consentPage.text).to.include('Read and search Patient records of the selected patient');
    const done = await consent(browser, consentPage, { patient: staff.patients[1], stop: () => false });
    expect(done.status, done.text).to.equal(200);
    const body = JSON.parse(done.text) as { patient: { id: string }; token: Record<string, unknown> };
    expect(body.patient.id).to.equal(staff.patients[1]);
    expect(body.token).to.include({ patient: staff.patients[1], token_type: 'Bearer' });
    expect(String(body.token.scope).split(' '), JSON.stringify(body.token)).to.include.members(['openid', 'fhirUser', 'launch/patient', 'offline_access', 'patient/Patient.rs']);
    expect(body.token.refresh_token).to.be.a('string');
    expect(body.token.expires_in).to.be.at.most(3600);
    const idToken = decodeJwt(String(body.token.id_token));
    expect(idToken.fhirUser).to.match(new RegExp(`/Practitioner/${staff.user}$`));
    const at = decodeJwt(String(body.token.access_token));
    expect(at).to.include({ sub: staff.user, clinic: staff.clinic, patient: staff.patients[1], client_id: clientId });

    const trail = await authEvents(staff.clinic, 'login');
    expect(trail.some((e) => e.outcome === '0')).to.equal(true);
    expect((await authEvents(staff.clinic, 'authorize')).some((e) => e.outcome === '0')).to.equal(true);
    expect((await authEvents(staff.clinic, 'token')).some((e) => e.outcome === '0' && e.event.entity?.some((x) => x.what?.identifier?.value === at.jti))).to.equal(true);
  });

  it('a scope the user unticks is not granted', async () => {
    const browser = new ScriptedBrowser();
    const login = await browser.follow(`${app.origin}/launch`);
    const page = await signInPage(browser, login, staff, { totpStep: 1 });
    expect(page.text, page.text.replace(/<style>[^]*<\/style>/, '').slice(0, 1200)).to.include('Allow access?');
    const done = await consent(browser, page, { untick: ['offline_access'], stop: () => false });
    expect(done.text, done.text.replace(/<style>[^]*<\/style>/, '').slice(0, 1500)).to.match(/^\{/);
    const body = JSON.parse(done.text) as { token: Record<string, unknown> };
    expect(String(body.token.scope).split(' ')).to.not.include('offline_access');
    expect(body.token.refresh_token).to.equal(undefined);
  });

  it('EHR launch: a launch value minted for the user and a patient skips the picker and puts that patient in context', async () => {
    const { cfg } = await oauthServer();
    const s = await testServer();
    const nurse = await staffFixture('doctor', staff.clinic);
    // The EHR-side launcher signs in as the user (a token of this server) and mints the launch value.
    const ehrToken = await mintAccessToken(s.keys[0], { issuer: cfg.tokenIssuer, audience: cfg.tokenAudience, clinicClaim: cfg.clinicClaim }, { clinicId: staff.clinic, userId: nurse.user, scope: 'user/*.rs' });
    const minted = await fetch(`${(await urls()).base}/oauth/launch`, { method: 'POST', headers: { Authorization: `Bearer ${ehrToken}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ patient: nurse.patients[0] }) });
    expect(minted.status).to.equal(201);
    const { launch } = await minted.json() as { launch: string };

    const browser = new ScriptedBrowser();
    const scope = encodeURIComponent('openid fhirUser launch patient/Patient.rs');
    const login = await browser.follow(`${app.origin}/launch?iss=${encodeURIComponent((await urls()).fhir)}&launch=${launch}&scope=${scope}`);
    const page = await signInPage(browser, login, nurse);
    expect(page.text).to.include('Patient in context');
    expect(page.text).to.not.include('name="patient"');
    const done = await consent(browser, page, { stop: () => false });
    const body = JSON.parse(done.text) as { patient: { id: string }; token: Record<string, unknown> };
    expect(body.token.patient).to.equal(nurse.patients[0]);
    expect(body.patient.id).to.equal(nurse.patients[0]);
  });
});
