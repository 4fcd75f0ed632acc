import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { type Browser, chromium } from 'playwright-core';
import { createUser } from '../../server/admin/tenancy';
import { SESSION_COOKIE } from '../../server/console/session';
import { chromiumPath } from '../helpers/chromium';
import { actor, admin, api, FHIR, newClinic, patientBody, tokenFor } from '../helpers/server';
import { oauthServer } from '../oauth/helpers';
import { officer } from './helpers';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const OUT = path.resolve('test-output', 'console');

describe('The Patient report in a real browser (headless Chromium, playwright-core)', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  after(async () => { await browser?.close(); });

  it('a compliance officer opens the report of a chart a doctor read five times: one line for the doctor with the count, printable without the navigation', async () => {
    const base = (await oauthServer()).url;
    fs.mkdirSync(OUT, { recursive: true });
    const writer = await actor('doctor', 'user/*.cruds', await newClinic('Printable'));
    const patient = (await (await api()).post('/fhir/Patient').set(writer.auth).set('Content-Type', FHIR).send(patientBody('Lovelace'))).body.id as string;
    const doctor = (await createUser(await admin(), { clinicId: writer.clinic, email: `dr.browser.${Date.now()}@test.example`, role: 'doctor', displayName: 'Dr Mary Browser' })).id;
    const auth = { Authorization: `Bearer ${await tokenFor({ clinicId: writer.clinic, userId: doctor, scope: 'user/*.cruds' })}` };
    for (let i = 0; i < 5; i++) await (await api()).get(`/fhir/Patient/${patient}`).set(auth).expect(200);

    // The session cookie as the sign-in seals it (the sign-in itself is driven in browser.test.ts).
    const o = await officer(writer.clinic);
    browser = await chromium.launch({ executablePath: await chromiumPath(), args: ARGS });
    const context = await browser.newContext();
    await context.addCookies([{ name: SESSION_COOKIE, value: o.cookie.slice(SESSION_COOKIE.length + 1), url: `${base}/console`, httpOnly: true, secure: true, sameSite: 'Strict' }]);
    const page = await context.newPage();

    // From the patient's access log, follow the link to the report.
    await page.goto(`${base}/console/access?patient=${patient}`);
    await page.click('#patient-report');
    await page.waitForURL((u) => u.pathname === '/console/patient-report');
    expect(await page.textContent('h2')).to.equal('Who accessed your record');
    const row = page.locator('.report tbody tr', { hasText: 'Dr Mary Browser' });
    expect(await row.count()).to.equal(1);
    const cells = (await row.locator('td').allTextContents()).map((t) => t.trim());
    expect(cells.slice(1, 7)).to.deep.equal(['Dr Mary Browser', 'doctor', 'viewed', 'demographics', 'care', '5']);
    expect(await page.textContent('#report-patient')).to.equal(patient);
    await page.screenshot({ path: path.join(OUT, 'patient-report.png'), fullPage: true });

    // On paper: no navigation, no form, the heading and the report stay.
    await page.emulateMedia({ media: 'print' });
    expect(await page.isVisible('header')).to.equal(false);
    expect(await page.isVisible('form.filters')).to.equal(false);
    expect(await page.isVisible('.report-head')).to.equal(true);
    expect(await row.isVisible()).to.equal(true);
    const pdf = await page.pdf({ path: path.join(OUT, 'patient-report.pdf'), format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).to.equal('%PDF-');
    await page.emulateMedia({ media: 'screen' });

    // A bad date typed into the form: a readable message, nothing of the input echoed.
    await page.goto(`${base}/console/patient-report?patient=${patient}&from=2026-02-30`);
    expect(await page.textContent('.error')).to.equal('from must be a date YYYY-MM-DD');
    expect(await page.textContent('h1')).to.equal('Cannot show this');
    await page.screenshot({ path: path.join(OUT, 'patient-report-bad-date.png'), fullPage: true });
    await context.close();
  });
});
