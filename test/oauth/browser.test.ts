import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { type Browser, chromium } from 'playwright-core';
import { chromiumPath } from '../helpers/chromium';
import { authEvents, publicClient, staffFixture, totp } from './helpers';
import { authorizeUrl, pkce } from './flows';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

describe('Sign-in in a real browser (headless Chromium driven by playwright-core)', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let app: http.Server;
  let callback: string;

  before(async function () {
    app = http.createServer((_req, res) => { res.setHeader('Content-Type', 'text/html'); res.end('<h1>App received the code</h1>'); });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    callback = `http://127.0.0.1:${(app.address() as AddressInfo).port}/callback`;
    browser = await chromium.launch({ executablePath: await chromiumPath(), args: ARGS });
  });
  after(async () => {
    await browser?.close();
    if (app) await new Promise<void>((resolve) => { app.close(() => resolve()); app.closeAllConnections(); });
  });

  it('signs in with password and TOTP, consents, and lands on the redirect with a code and the state', async () => {
    const staff = await staffFixture('doctor');
    const clientId = await publicClient(staff.clinic, callback);
    const url = await authorizeUrl(clientId, callback, pkce());
    const state = new URL(url).searchParams.get('state');

    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.fill('#email', staff.email);
    await page.fill('#password', staff.password);
    await page.fill('#code', await totp(staff.secret));
    await page.click('button[type=submit]');
    await page.waitForSelector('text=Allow access?');
    expect(await page.isChecked('input[name=patient]')).to.equal(true);
    await page.uncheck(`input[name=scope][value="offline_access"]`);
    await page.click('button[value=allow]');
    await page.waitForURL((u) => u.toString().startsWith(callback));

    const landed = new URL(page.url());
    expect(landed.searchParams.get('code')).to.be.a('string').with.length.greaterThan(10);
    expect(landed.searchParams.get('state')).to.equal(state);
    expect(await page.textContent('h1')).to.equal('App received the code');

    const session = (await context.cookies()).find((c) => c.name === '_session');
    expect(session).to.include({ httpOnly: true, secure: true, sameSite: 'Lax' });
    expect((await authEvents(staff.clinic, 'login')).some((e) => e.outcome === '0')).to.equal(true);
    expect((await authEvents(staff.clinic, 'authorize')).some((e) => e.outcome === '0' && !e.event.entity?.some((x) => x.detail?.some((d) => /offline_access/.test(d.valueString ?? ''))))).to.equal(true);
    await context.close();
  });
});
