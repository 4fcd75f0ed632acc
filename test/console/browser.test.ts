import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, AuditEvent } from 'fhir/r4';
import { expect } from 'chai';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { enrollMfa, setUserPassword } from '../../server/admin/oauth';
import { CSV_COLUMNS } from '../../server/console/export';
import { chromiumPath } from '../helpers/chromium';
import { auditEvents } from '../helpers/audit';
import { admin, api, FHIR, newUser, patientBody, testServer, tokenFor } from '../helpers/server';
import { oauthServer, staffFixture } from '../oauth/helpers';
import { signInConsole } from './helpers';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const OUT = path.resolve('test-output', 'console');

/** RFC 4180 rows: quoted fields, doubled quotes, CRLF line ends. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  const re = /"((?:[^"]|"")*)"(,|\r\n)/g;
  let row: string[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) {
    row.push(m[1].replace(/""/g, '"'));
    if (m[2] === '\r\n') { rows.push(row); row = []; }
  }
  return rows;
}

describe('The compliance console in a real browser (headless Chromium, playwright-core)', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let context: BrowserContext;
  let base: string;
  let doctor: Awaited<ReturnType<typeof staffFixture>>;
  let officer: { user: string; email: string; password: string; secret: string };

  before(async () => {
    base = (await oauthServer()).url;
    fs.mkdirSync(OUT, { recursive: true });
    doctor = await staffFixture('doctor');
    const user = await newUser(doctor.clinic, 'compliance-officer');
    const password = `officer horse ${Math.random().toString(36).slice(2)}`;
    await setUserPassword(await admin(), user, password);
    const { secret } = await enrollMfa(await admin(), user);
    const email = (await (await admin())('app_user').where({ id: user }).first('email')).email as string;
    officer = { user, email, password, secret };
    // The doctor reads the first patient's chart through the API.
    const token = await tokenFor({ clinicId: doctor.clinic, userId: doctor.user, scope: 'user/*.cruds' });
    await (await api()).get(`/fhir/Patient/${doctor.patients[0]}`).set('Authorization', `Bearer ${token}`).expect(200);
    browser = await chromium.launch({ executablePath: await chromiumPath(), args: ARGS });
    context = await browser.newContext({ acceptDownloads: true });
  });
  after(async () => { await browser?.close(); });

  it("a compliance officer signs in with password and TOTP, opens a patient's access log and sees the doctor who read the chart", async () => {
    const page = await context.newPage();
    await signInConsole(page, base, officer);
    expect(new URL(page.url()).pathname).to.equal('/console');
    expect(await page.textContent('h1')).to.equal('Overview');
    const session = (await context.cookies()).find((c) => c.name === 'console_session');
    expect(session).to.include({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/console' });
    await page.screenshot({ path: path.join(OUT, 'overview.png'), fullPage: true });

    await page.goto(`${base}/console/access?patient=${doctor.patients[0]}`);
    const rows = page.locator('tbody tr', { hasText: doctor.email });
    expect(await rows.count()).to.be.greaterThan(0);
    expect(await rows.first().textContent()).to.include('read');
    await page.screenshot({ path: path.join(OUT, 'patient-access-log.png'), fullPage: true });

    await rows.first().locator('a', { hasText: 'raw' }).click();
    const raw = JSON.parse(await page.textContent('#raw-event') ?? '{}') as AuditEvent;
    expect(raw.resourceType).to.equal('AuditEvent');
    expect(raw.entity?.some((e) => e.what?.reference === `Patient/${doctor.patients[0]}`)).to.equal(true);
    await page.close();
  });

  it("the CSV export of a patient's log has the same events as the API's AuditEvent search", async () => {
    const token = await tokenFor({ clinicId: doctor.clinic, userId: officer.user, scope: 'user/AuditEvent.rs' });
    const bundle = (await (await api()).get(`/fhir/AuditEvent?patient=${doctor.patients[0]}&_count=1000`).set('Authorization', `Bearer ${token}`).expect(200)).body as Bundle<AuditEvent>;
    const fromApi = (bundle.entry ?? []).map((e) => e.resource!);
    expect(fromApi.length).to.be.greaterThan(1);

    const page = await context.newPage();
    await page.goto(`${base}/console/access?patient=${doctor.patients[0]}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const [header, ...rows] = parseCsv(fs.readFileSync(await download.path(), 'utf8'));
    expect(header).to.deep.equal([...CSV_COLUMNS]);
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    const byId = new Map(rows.map((r) => [r[col('id')], r]));
    for (const e of fromApi) {
      const r = byId.get(e.id!);
      expect(r, `AuditEvent ${e.id} is in the CSV`).to.not.equal(undefined);
      expect(r![col('recorded')]).to.equal(e.recorded);
      expect(r![col('action')]).to.equal(e.action);
      expect(r![col('outcome')]).to.equal(e.outcome);
      expect(r![col('user_id')]).to.equal(e.agent.find((a) => a.altId)?.altId ?? '');
    }
    // Anything else in the CSV was recorded after the API's search began (the search's own event).
    const apiIds = new Set(fromApi.map((e) => e.id));
    const firstApi = fromApi.map((e) => e.recorded!).sort().at(-1)!;
    for (const r of rows.filter((x) => !apiIds.has(x[col('id')]))) expect(r[col('recorded')] >= firstApi).to.equal(true);
    const exports = await auditEvents((q) => q.where({ clinic_id: doctor.clinic, user_id: officer.user, subtype: 'console-export' }));
    expect(exports.map((e) => e.outcome)).to.deep.equal(['0']);
    await page.close();
  });

  it('the alert for a user opening 50 patients in an hour appears, and can be marked reviewed with a note', async () => {
    const token = await tokenFor({ clinicId: doctor.clinic, userId: doctor.user, scope: 'user/*.cruds' });
    for (let i = 0; i < 50; i++) {
      const created = await (await api()).post('/fhir/Patient').set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR).send(patientBody(`Many${i}`));
      await (await api()).get(`/fhir/Patient/${created.body.id}`).set('Authorization', `Bearer ${token}`).expect(200);
    }
    const page = await context.newPage();
    await page.goto(`${base}/console/alerts`);
    const alert = page.locator('tr.alert.many-patients', { hasText: doctor.email });
    expect(await alert.count()).to.equal(1);
    expect(await alert.textContent()).to.include('Many patients opened in an hour');
    await page.screenshot({ path: path.join(OUT, 'alerts.png'), fullPage: true });
    await alert.locator('input[name=note]').fill('Registration day: bulk intake, expected');
    await alert.locator('button[type=submit]').click();
    await page.waitForURL((u) => u.pathname === '/console/alerts');
    expect(await page.locator('tr.alert.many-patients', { hasText: doctor.email }).textContent()).to.include('Registration day: bulk intake, expected');
    await page.close();
  });

  it('the officer runs the integrity check: valid once sealed, then invalid naming the row a superuser changed', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/console/integrity`);
    await (await testServer()).sealer!.sealNow();
    await page.click('#run-verify');
    await page.waitForSelector('#verify-result');
    expect(await page.textContent('#verify-result'), await page.innerHTML('#verify-outcome')).to.equal('valid');
    expect(Number(await page.textContent('#verify-checked'))).to.be.greaterThan(5);
    await page.screenshot({ path: path.join(OUT, 'integrity-valid.png'), fullPage: true });

    // As the PostgreSQL superuser, triggers off, one sealed row of the doctor's read is rewritten.
    const db = await admin();
    const target = await db('audit_event').where({ clinic_id: doctor.clinic, user_id: doctor.user, subtype: 'read' }).orderBy('last_updated').first('id');
    await db.transaction(async (trx) => {
      await trx.raw('set local session_replication_role = replica');
      await trx.raw(`update audit_event set outcome_desc = 'nothing to see' where id = ?`, [target.id]);
    });
    await page.goto(`${base}/console/integrity`);
    await (await testServer()).sealer!.sealNow();
    await page.click('#run-verify');
    await page.waitForSelector('#verify-result');
    expect(await page.textContent('#verify-result')).to.equal('invalid');
    const first = page.locator('#verify-issues tr.issue.first');
    expect(await first.count()).to.equal(1);
    expect(await first.textContent()).to.include('row-modified').and.include(`AuditEvent/${target.id}`);
    await page.screenshot({ path: path.join(OUT, 'integrity-invalid.png'), fullPage: true });

    // The issue opens the raw AuditEvent, and the overview shows the last result.
    await first.locator('a').click();
    expect((JSON.parse(await page.textContent('#raw-event') ?? '{}') as AuditEvent).id).to.equal(target.id);
    await page.goto(`${base}/console`);
    expect(await page.locator('.card', { hasText: 'Last integrity check' }).locator('b').textContent()).to.equal('invalid');
    await page.close();
  });

  it('a doctor signing in to the console is refused, and the refusal is audited', async () => {
    const own = await browser!.newContext();
    const page = await own.newPage();
    await signInConsole(page, base, doctor);
    expect(await page.textContent('.error')).to.include('does not include the compliance console');
    expect((await own.cookies()).some((c) => c.name === 'console_session')).to.equal(false);
    const refused = await auditEvents((q) => q.where({ clinic_id: doctor.clinic, user_id: doctor.user, subtype: 'console-sign-in' }));
    expect(refused.map((e) => e.outcome)).to.deep.equal(['4']);
    await own.close();
  });
});
