import { expect } from 'chai';
import { setRolePermissions } from '../../server/admin/tenancy';
import { auditEvents } from '../helpers/audit';
import { actor, admin, api, FHIR, newClinic, newUser, patientBody, testServer } from '../helpers/server';
import { consoleGet, csrfOf, officer, sessionCookie } from './helpers';

/** A clinic where a doctor wrote and read a patient, everything sealed, and its compliance officer's console session. */
async function sealedClinic(name: string) {
  const doctor = await actor('doctor', 'user/*.cruds', await newClinic(name));
  const created = await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody('Verity'));
  await (await api()).get(`/fhir/Patient/${created.body.id}`).set(doctor.auth).expect(200);
  const o = await officer(doctor.clinic);
  await seal();
  return { doctor, o };
}

/** The stored audit rows (typed columns), as the migration account sees them. */
const auditRows = async (where: Record<string, string>): Promise<Array<{ outcome: string; outcome_desc: string | null; detail: Record<string, string> | null }>> =>
  (await admin())('audit_event').where(where).orderBy('last_updated').select('outcome', 'outcome_desc', 'detail');

const seal = async () => { await (await testServer()).sealer!.sealNow(); };

/** Opens the Integrity page, seals (the page view is an audit row too), and posts its form. */
async function runCheck(cookie: string, fields: Record<string, string> = {}) {
  const csrf = csrfOf((await consoleGet('/console/integrity', cookie)).text);
  expect(csrf).to.not.equal('');
  await seal();
  return (await api()).post('/console/integrity').set('Cookie', cookie).type('form').send({ csrf, from: '', to: '', ...fields });
}

describe('Console: the Integrity screen and the overview\'s seal facts', function () {
  this.timeout(60_000);

  it('a compliance officer runs the integrity check: valid, the rows counted, audited as $verify is, and the overview shows the result', async () => {
    const { o } = await sealedClinic('Integrity');
    const res = await runCheck(o.cookie);
    expect(res.status, res.text).to.equal(200);
    expect(res.text).to.match(/id="verify-result" class="verify-valid">valid</);
    expect(Number(/id="verify-checked">(\d+)</.exec(res.text)?.[1])).to.be.greaterThan(2);
    expect(res.text).to.include('No issues.');
    const runs = await auditRows({ clinic_id: o.session.clinicId, user_id: o.user, subtype: 'operation' });
    expect(runs.map((e) => [e.outcome, e.outcome_desc, e.detail?.operation])).to.deep.equal([['0', runs[0].outcome_desc, '$verify']]);
    expect(runs[0].outcome_desc).to.match(/^\$verify: valid, \d+ rows, 0 issues$/);

    const overview = await consoleGet('/console', o.cookie);
    expect(overview.text).to.match(/Last integrity check \(\$verify\)<\/a><b>valid<\/b>/);
    expect(overview.text).to.match(/Seal lag<b>[\d.]+ s<\/b>/);
  });

  it('a page view whose address holds a query string (a "?") is stored as written, so the trail still verifies as valid', async () => {
    const { o, doctor } = await sealedClinic('Question');
    const url = `/console/access?user=${doctor.user}`;
    expect((await consoleGet(url, o.cookie)).status).to.equal(200);
    const [view] = await (await admin())('audit_event').where({ clinic_id: doctor.clinic, user_id: o.user, subtype: 'console-view' }).select('query');
    expect(view.query).to.equal(url);
    // A refusal is recorded after the rollback, through another statement: its "?" is kept too.
    const bad = '/console/access?from=2026-02-30';
    expect((await consoleGet(bad, o.cookie)).status).to.equal(400);
    const [refused] = await (await admin())('audit_event').where({ clinic_id: doctor.clinic, user_id: o.user, outcome: '4' }).select('query');
    expect(refused.query).to.equal(bad);
    const res = await runCheck(o.cookie);
    expect(res.text).to.match(/id="verify-result" class="verify-valid">valid</);
  });

  it('the API\'s $verify and the console share one implementation: the overview shows the newest run, whichever way it was asked', async () => {
    const { o, doctor } = await sealedClinic('Shared');
    expect((await consoleGet('/console', o.cookie)).text).to.match(/Last integrity check \(\$verify\)<\/a><b>none<\/b>/);
    const token = await actor('compliance-officer', 'user/AuditEvent.rs', doctor.clinic);
    await seal();
    const api$ = await (await api()).post('/fhir/AuditEvent/$verify').set(token.auth).set('Content-Type', FHIR).send('');
    expect(api$.status).to.equal(200);
    expect((await consoleGet('/console', o.cookie)).text).to.match(/Last integrity check \(\$verify\)<\/a><b>valid<\/b>/);
  });

  for (const [what, fields, message] of [
    ['an impossible date', { from: '2026-02-30' }, 'from is not a calendar date'],
    ['injected markup', { to: '<script>alert(1)</script>' }, 'to must be a FHIR dateTime'],
    ['a range that ends before it starts', { from: '2026-05-02', to: '2026-05-01' }, 'to is before from'],
  ] as const) {
    it(`a check with ${what} is answered 400 with a readable message above the form, nothing reflected unescaped, and audited`, async () => {
      const o = await officer(await newClinic('BadDates'));
      const res = await runCheck(o.cookie, fields);
      expect(res.status).to.equal(400);
      expect(res.text).to.include(message);
      expect(res.text).to.include('id="run-verify"');
      expect(res.text).to.not.include('<script>alert');
      const refused = await auditEvents((q) => q.where({ clinic_id: o.session.clinicId, user_id: o.user, subtype: 'operation' }));
      expect(refused.map((e) => e.outcome)).to.deep.equal(['4']);
    });
  }

  it('a user whose role can search the audit trail but lacks compliance.auditEvents.verify gets a 403 page, audited, and no check runs', async () => {
    const clinic = await newClinic('NoVerify');
    await setRolePermissions(await admin(), { clinicId: clinic, role: 'billing', permissions: { compliance: { auditEvents: { view: true, search: true } } } });
    const user = await newUser(clinic, 'billing');
    const { cookie } = sessionCookie(clinic, user);
    const page = await consoleGet('/console/integrity', cookie);
    expect(page.status).to.equal(403);
    expect(page.text).to.include('compliance.auditEvents.verify');
    // The POST is refused the same way, with a valid CSRF token of the session.
    const csrf = csrfOf((await consoleGet('/console', cookie)).text);
    const post = await (await api()).post('/console/integrity').set('Cookie', cookie).type('form').send({ csrf, from: '', to: '' });
    expect(post.status).to.equal(403);
    const refused = await auditRows({ clinic_id: clinic, user_id: user, subtype: 'operation' });
    expect(refused.map((e) => [e.outcome, e.outcome_desc])).to.deep.equal([['4', 'role does not grant compliance.auditEvents.verify']]);
  });

  it('a check posted with a forged CSRF token is refused and audited, and nothing is verified', async () => {
    const { o } = await sealedClinic('Forged');
    const res = await (await api()).post('/console/integrity').set('Cookie', o.cookie).type('form').send({ csrf: 'forged' });
    expect(res.status).to.equal(403);
    expect(await auditEvents((q) => q.where({ clinic_id: o.session.clinicId, user_id: o.user, subtype: 'console-form', outcome: '4' }))).to.have.length(1);
    expect(await auditEvents((q) => q.where({ clinic_id: o.session.clinicId, subtype: 'operation' }))).to.have.length(0);
  });
});
