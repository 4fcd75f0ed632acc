import { expect } from 'chai';
import { auditRecord, type AuditRecord } from '../../server/audit/record';
import { auditRecordInsertSql } from '../../server/audit/writer';
import { auditEvents } from '../helpers/audit';
import { actor, admin, api, FHIR, newClinic, patientBody } from '../helpers/server';
import { consoleGet, csrfOf, officer, sessionCookie } from './helpers';

/** A clinic where a doctor created and read a patient. */
async function clinicWithAccess(name: string) {
  const doctor = await actor('doctor', 'user/*.cruds', await newClinic(name));
  const created = await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody('Quill'));
  const patient = created.body.id as string;
  await (await api()).get(`/fhir/Patient/${patient}`).set(doctor.auth).expect(200);
  return { ...doctor, patient };
}

describe('Compliance console pages (same RLS transaction, audited)', function () {
  this.timeout(60_000);

  it('without a session, a page sends the browser to the console sign-in', async () => {
    const res = await (await api()).get('/console/access').redirects(0);
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.match(/^\/console\/login\?next=/);
  });

  it('a session idle for more than 15 minutes is over', async () => {
    const a = await clinicWithAccess('Idle');
    const { cookie } = sessionCookie(a.clinic, (await officer(a.clinic)).user, { seenAt: Date.now() - 16 * 60_000 });
    const res = await consoleGet('/console', cookie);
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.match(/^\/console\/login/);
  });

  it("a patient's access log shows who read the chart, with a strict CSP and no script, and the view is itself audited", async () => {
    const a = await clinicWithAccess('Log');
    const o = await officer(a.clinic);
    const res = await consoleGet(`/console/access?patient=${a.patient}`, o.cookie);
    expect(res.status, res.text).to.equal(200);
    expect(res.headers['content-security-policy']).to.match(/default-src 'none'/).and.not.match(/script-src|unsafe-inline/);
    expect(res.text).to.not.match(/<script/i);
    expect(res.text).to.include(`/console/access?user=${a.user}`);
    expect(res.text).to.include(`Patient/${a.patient}`);
    const views = await auditEvents((q) => q.where({ clinic_id: a.clinic, user_id: o.user, subtype: 'console-view' }));
    expect(views.map((e) => e.outcome)).to.deep.equal(['0']);
  });

  it('a compliance officer of clinic B never sees clinic A: not its log rows, not its raw events, not in exports', async () => {
    const a = await clinicWithAccess('A');
    const b = await officer(await newClinic('B'));
    const aEvent = (await auditEvents((q) => q.where({ clinic_id: a.clinic, patient_id: a.patient })))[0];
    const log = await consoleGet(`/console/access?patient=${a.patient}`, b.cookie);
    expect(log.status).to.equal(200);
    expect(log.text).to.include('No events match');
    expect(log.text).to.not.include(a.user);
    expect((await consoleGet(`/console/events/${aEvent.id}`, b.cookie)).status).to.equal(404);
    const csv = await consoleGet(`/console/access/export.csv?patient=${a.patient}`, b.cookie);
    expect(csv.text.trim().split('\r\n')).to.have.length(1);
    // Even a session cookie naming clinic A for B's officer opens nothing: RLS needs a membership.
    const forged = sessionCookie(a.clinic, b.user).cookie;
    expect((await consoleGet(`/console/access?patient=${a.patient}`, forged)).status).to.equal(403);
  });

  it('a doctor (no compliance.auditEvents.search) is refused and the refusal is audited', async () => {
    const a = await clinicWithAccess('Doc');
    const { cookie } = sessionCookie(a.clinic, a.user);
    const res = await consoleGet('/console/access', cookie);
    expect(res.status).to.equal(403);
    expect(res.text).to.include('Access denied');
    const refused = await auditEvents((q) => q.where({ clinic_id: a.clinic, user_id: a.user, subtype: 'console-view' }));
    expect(refused.map((e) => e.outcome)).to.deep.equal(['4']);
  });

  for (const [what, query, message] of [
    ['an impossible date', 'from=2026-02-30', '"from" is not a real date'],
    ['an unknown outcome', 'outcome=9', '"outcome" must be one of'],
    ['injected markup as a patient', `patient=${encodeURIComponent('<script>alert(1)</script>')}`, '"patient" must be a patient id'],
    ['an unknown filter', 'colour=red', 'Unknown filter "colour"'],
    ['a range that ends before it starts', 'from=2026-05-02&to=2026-05-01', '"from" must be before "to"'],
    ['a forged page cursor', 'after=PHNjcmlwdD4', '"after" is not a page of this log'],
  ] as const) {
    it(`a filter with ${what} is refused with a readable message, nothing reflected, and audited`, async () => {
      const o = await officer(await newClinic('Filters'));
      const res = await consoleGet(`/console/access?${query}`, o.cookie);
      expect(res.status).to.equal(400);
      expect(res.text).to.include(message.replace(/"/g, '&quot;'));
      expect(res.text).to.not.include('<script>alert');
      expect(res.text).to.not.match(/at .*\.ts:\d+/);
      const refusals = await auditEvents((q) => q.where({ clinic_id: o.session.clinicId, user_id: o.user, outcome: '4' }));
      expect(refusals).to.have.length(1);
    });
  }

  it('a form with a forged or another session\'s CSRF token is refused and audited; the right one is accepted', async () => {
    const a = await clinicWithAccess('Csrf');
    const o = await officer(a.clinic);
    const page = await consoleGet('/console/alerts', o.cookie);
    const good = csrfOf(page.text);
    expect(good).to.not.equal('');
    const other = sessionCookie(a.clinic, o.user);
    const otherToken = csrfOf((await consoleGet('/console/alerts', other.cookie)).text);
    for (const token of ['forged', otherToken]) {
      const res = await (await api()).post('/console/alerts/review').set('Cookie', o.cookie).type('form').send({ csrf: token, key: `refusals:${a.user}:x`, note: 'n' });
      expect(res.status).to.equal(403);
      expect(res.text).to.include('security token');
    }
    const forms = await auditEvents((q) => q.where({ clinic_id: a.clinic, user_id: o.user, subtype: 'console-form' }));
    expect(forms.map((e) => e.outcome)).to.deep.equal(['4', '4']);
    const ok = await (await api()).post('/console/alerts/review').set('Cookie', o.cookie).type('form').send({ csrf: good, key: `refusals:${a.user}:2026-01-01T00:00:00.000Z`, note: 'looked into it' });
    expect(ok.status, ok.text).to.equal(303);
    expect(await auditEvents((q) => q.where({ clinic_id: a.clinic, user_id: o.user, subtype: 'console-alert-review', outcome: '0' }))).to.have.length(1);
  });

  it('privileged changes show what was added, removed and changed between the old and new state', async () => {
    const clinic = await newClinic('Priv');
    const o = await officer(clinic);
    // The shape the privileged-change writer gives these rows: old/new canonical JSON in detail.
    const old = JSON.stringify({ clinical: { patients: { view: true, delete: true } }, name: 'nurse' });
    const next = JSON.stringify({ clinical: { patients: { view: false } }, name: 'nurse', scheduling: { appointments: { view: true } } });
    const row = auditRecord({ interaction: '110136', action: 'U', outcome: '0', clinicId: clinic, userId: o.user, resourceType: 'Role', resourceId: 'nurse' });
    row.detail = { old, new: next, operator: 'ops@clinic' } as unknown as AuditRecord['detail'];
    await (await admin()).raw(auditRecordInsertSql(row));
    const res = await consoleGet('/console/changes', o.cookie);
    expect(res.status).to.equal(200);
    expect(res.text).to.include('Security roles changed');
    expect(res.text).to.match(/class="added"><td>scheduling\.appointments\.view/);
    expect(res.text).to.match(/class="removed"><td>clinical\.patients\.delete/);
    expect(res.text).to.match(/class="changed"><td>clinical\.patients\.view/);
  });
});
