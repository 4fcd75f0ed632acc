import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { type Browser, chromium } from 'playwright-core';
import { enrollMfa, setUserPassword } from '../../server/admin/oauth';
import { breakGlass, operation, out } from '../care/helpers';
import { chromiumPath } from '../helpers/chromium';
import { created, medicationRequestBody } from '../helpers/resources';
import { admin, api, newUser, tokenFor } from '../helpers/server';
import { oauthServer, staffFixture } from '../oauth/helpers';
import { signInConsole } from './helpers';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const OUT = path.resolve('test-output', 'console');
const NOTE = 'No emergency in the chart: the patient was stable and assigned to another doctor';

describe('Break-glass review in the console, in a real browser (headless Chromium, playwright-core)', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  after(async () => { await browser?.close(); });

  it('a doctor breaks the glass and reads a prescription; the compliance officer sees that access under the grant, marks it inappropriate, and the decision shows in the privileged changes', async () => {
    const base = (await oauthServer()).url;
    fs.mkdirSync(OUT, { recursive: true });
    // A care-team clinic: the doctor is not in the patient's care, so only break-glass opens the prescription.
    const clinicAdmin = await staffFixture('clinic-admin');
    const adminAuth = { Authorization: `Bearer ${await tokenFor({ clinicId: clinicAdmin.clinic, userId: clinicAdmin.user, scope: 'user/*.cruds' })}` };
    const patient = clinicAdmin.patients[0];
    const rx = await created(adminAuth, 'MedicationRequest', medicationRequestBody(patient));
    expect((await operation(adminAuth, '$set-access-policy', { policy: 'care-team' })).status).to.equal(200);
    const doctor = await newUser(clinicAdmin.clinic, 'doctor');
    const doctorAuth = { Authorization: `Bearer ${await tokenFor({ clinicId: clinicAdmin.clinic, userId: doctor, scope: 'user/*.cruds' })}` };
    expect((await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(doctorAuth)).status).to.equal(404);
    const grant = out(await breakGlass(doctorAuth, patient), 'grant') as string;
    expect((await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(doctorAuth)).status).to.equal(200);

    const officer = await newUser(clinicAdmin.clinic, 'compliance-officer');
    const password = `officer glass ${Math.random().toString(36).slice(2)}`;
    await setUserPassword(await admin(), officer, password);
    const { secret } = await enrollMfa(await admin(), officer);
    const email = (await (await admin())('app_user').where({ id: officer }).first('email')).email as string;

    browser = await chromium.launch({ executablePath: await chromiumPath(), args: ARGS });
    const page = await (await browser.newContext()).newPage();
    await signInConsole(page, base, { email, password, secret });
    const card = page.locator('.card', { hasText: 'Pending break-glass reviews' });
    expect(await card.locator('b').textContent()).to.equal('1');
    await card.locator('a').click();
    await page.waitForURL((u) => u.pathname === '/console/break-glass');
    await page.screenshot({ path: path.join(OUT, 'break-glass-list.png'), fullPage: true });

    await page.locator('tr.grant.pending').locator('a', { hasText: 'open' }).click();
    await page.waitForURL((u) => u.pathname === `/console/break-glass/${grant}`);
    expect(await page.textContent('#reason')).to.equal('Unconscious on arrival, allergy history needed');
    const access = page.locator('#accesses tr.access', { hasText: `MedicationRequest/${rx}` });
    expect(await access.count()).to.equal(1);
    expect(await access.textContent()).to.include('read');

    await page.fill('#decision textarea[name=note]', NOTE);
    await page.click('#decision button[value=inappropriate]');
    await page.waitForURL((u) => u.pathname === `/console/break-glass/${grant}`);
    expect(await page.textContent('#review-status')).to.include('inappropriate').and.include(NOTE);
    await page.screenshot({ path: path.join(OUT, 'break-glass-grant.png'), fullPage: true });

    await page.goto(`${base}/console/changes`);
    const change = page.locator('section.change', { hasText: `Patient/${patient}` });
    expect(await change.count()).to.equal(1);
    const review = change.locator('tr', { hasText: 'review' }).filter({ hasText: 'changed' });
    expect(await review.textContent()).to.include('"pending"').and.include('"inappropriate"');
    await page.screenshot({ path: path.join(OUT, 'break-glass-privileged-change.png'), fullPage: true });
  });
});
