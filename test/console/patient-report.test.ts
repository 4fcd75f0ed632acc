import { expect } from 'chai';
import type { Parameters } from 'fhir/r4';
import { createUser } from '../../server/admin/tenancy';
import { breakGlass, out, REASON } from '../care/helpers';
import { auditEvents } from '../helpers/audit';
import { actor, admin, api, FHIR, newClinic, patientBody, tokenFor } from '../helpers/server';
import { consoleGet, officer, sessionCookie } from './helpers';

/** A clinic where a named doctor read one patient's chart `reads` times. */
async function clinicWithReads(reads: number) {
  const writer = await actor('doctor', 'user/*.cruds', await newClinic('Report'));
  const patient = (await (await api()).post('/fhir/Patient').set(writer.auth).set('Content-Type', FHIR).send(patientBody('Printed'))).body.id as string;
  const doctor = (await createUser(await admin(), { clinicId: writer.clinic, email: `dr.print.${Date.now()}@test.example`, role: 'doctor', displayName: 'Dr Grace Print' })).id;
  const auth = { Authorization: `Bearer ${await tokenFor({ clinicId: writer.clinic, userId: doctor, scope: 'user/*.cruds' })}` };
  for (let i = 0; i < reads; i++) await (await api()).get(`/fhir/Patient/${patient}`).set(auth).expect(200);
  return { clinic: writer.clinic, patient, doctor };
}

/** The report table's rows, each as its cells' text. */
const tableRows = (page: string): string[][] => [...page.matchAll(/<tr class="[^"]*"><td>([\s\S]*?)<\/tr>/g)]
  .map((m) => `<td>${m[1]}`.split(/<\/td>\s*<td[^>]*>/).map((c) => c.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()));

describe('The console\'s Patient report (the patient\'s access report, printable)', function () {
  this.timeout(120_000);

  it('shows one line for the doctor who read the chart with the count, as $access-report gives it, and reading it is audited like the operation', async () => {
    const c = await clinicWithReads(4);
    const o = await officer(c.clinic);
    const res = await consoleGet(`/console/patient-report?patient=${c.patient}`, o.cookie);
    expect(res.status, res.text).to.equal(200);
    expect(res.headers['content-security-policy']).to.match(/default-src 'none'/);
    expect(res.text).to.not.match(/<script/i);
    expect(res.text).to.include('Who accessed your record');
    const today = new Date().toISOString().slice(0, 10);
    const doctorRows = tableRows(res.text).filter((r) => r[1] === 'Dr Grace Print');
    expect(doctorRows).to.have.length(1);
    expect(doctorRows[0].slice(0, 7)).to.deep.equal([today, 'Dr Grace Print', 'doctor', 'viewed', 'demographics', 'care', '4']);

    const apiToken = await tokenFor({ clinicId: c.clinic, userId: o.user, scope: 'user/AuditEvent.rs' });
    const body = (await (await api()).get(`/fhir/Patient/${c.patient}/$access-report`).set('Authorization', `Bearer ${apiToken}`).expect(200)).body as Parameters;
    const fromApi = (body.parameter ?? []).filter((p) => p.name === 'row').map((p) => Object.fromEntries((p.part ?? []).map((x) => [x.name, x.valueString ?? x.valueInteger ?? x.valueCode ?? x.valueDate])));
    expect(fromApi.find((r) => r.accessor === 'Dr Grace Print')).to.include({ day: today, role: 'doctor', kind: 'viewed', data: 'demographics', purpose: 'care', count: 4 });
    expect(res.text).to.include(`<dd id="report-range">${String(body.parameter?.find((p) => p.name === 'from')?.valueDate)} to ${today}`);

    // The console's reading and the API's: the same AuditEvent shape, about the patient.
    const views = await auditEvents((q) => q.where({ clinic_id: c.clinic, user_id: o.user, patient_id: c.patient, subtype: 'operation', outcome: '0' }).whereRaw("detail->>'operation' = 'access-report'"));
    expect(views).to.have.length(2);
    expect(await auditEvents((q) => q.where({ clinic_id: c.clinic, user_id: o.user, subtype: 'console-view' }))).to.deep.equal([]);
  });

  it('a break-glass line names the category and reason and, while the grant is open, how to revoke it', async () => {
    const c = await clinicWithReads(1);
    const er = await actor('doctor', 'user/*.cruds', c.clinic);
    const granted = await breakGlass(er.auth, c.patient);
    expect(granted.status).to.equal(201);
    await (await api()).get(`/fhir/Patient/${c.patient}`).set(er.auth).expect(200);
    const o = await officer(c.clinic);
    const res = await consoleGet(`/console/patient-report?patient=${c.patient}`, o.cookie);
    const emergency = tableRows(res.text).filter((r) => r[5] === 'emergency access');
    expect(emergency).to.have.length(1);
    expect(emergency[0][8]).to.include('category: emergency-treatment').and.include(`reason: ${REASON}`)
      .and.include(`$break-glass-revoke, Parameters grant=${String(out(granted, 'grant'))}`);
  });

  it('without a patient it shows the picker, and the view is audited', async () => {
    const o = await officer(await newClinic('Picker'));
    const res = await consoleGet('/console/patient-report', o.cookie);
    expect(res.status).to.equal(200);
    expect(res.text).to.include('name="patient"').and.include('<a href="/console/patient-report" class="on">Patient report</a>');
    expect(res.text).to.not.include('Who accessed your record');
    const views = await auditEvents((q) => q.where({ clinic_id: o.session.clinicId, user_id: o.user, subtype: 'console-view' }));
    expect(views.map((e) => e.outcome)).to.deep.equal(['0']);
  });

  it('the access log of a patient links to that patient\'s report', async () => {
    const c = await clinicWithReads(1);
    const o = await officer(c.clinic);
    const res = await consoleGet(`/console/access?patient=${c.patient}`, o.cookie);
    expect(res.text).to.include(`href="/console/patient-report?patient=${c.patient}"`);
  });

  for (const [what, query, status, message, subtype] of [
    ['an impossible date', 'from=2026-02-30', 400, 'from must be a date YYYY-MM-DD', 'operation'],
    ['a range that ends before it starts', 'from=2026-05-02&to=2026-05-01', 400, 'from must not be after to', 'operation'],
    ['more than a year', 'from=2020-01-01&to=2026-01-01', 400, 'the report covers at most 366 days', 'operation'],
    ['an unknown parameter', 'colour=red', 400, 'Unknown parameter &quot;colour&quot;', 'console-view'],
    ['a date given twice', 'from=2026-01-01&from=2026-01-02', 400, '&quot;from&quot; was given more than once', 'console-view'],
  ] as const) {
    it(`${what} is refused with a readable message, and audited`, async () => {
      const c = await clinicWithReads(1);
      const o = await officer(c.clinic);
      const res = await consoleGet(`/console/patient-report?patient=${c.patient}&${query}`, o.cookie);
      expect(res.status).to.equal(status);
      expect(res.text).to.include(`<p class="error" role="alert">${message}`);
      expect(res.text).to.not.match(/at .*\.ts:\d+/);
      const refusals = await auditEvents((q) => q.where({ clinic_id: c.clinic, user_id: o.user, subtype, outcome: '4' }));
      expect(refusals).to.have.length(1);
    });
  }

  it('an unknown patient, another clinic\'s patient or markup as a patient id is a 404 page, never reflected unescaped', async () => {
    const c = await clinicWithReads(1);
    const stranger = await officer(await newClinic('Elsewhere'));
    for (const id of ['6f1c2b3a-0000-4000-8000-000000000000', c.patient, '<script>alert(1)</script>']) {
      const res = await consoleGet(`/console/patient-report?patient=${encodeURIComponent(id)}`, stranger.cookie);
      expect(res.status, id).to.equal(404);
      expect(res.text).to.include('is not known');
      expect(res.text).to.not.include('<script>alert');
      expect(res.text).to.not.include('Dr Grace Print');
    }
    const refusals = await auditEvents((q) => q.where({ clinic_id: stranger.session.clinicId, user_id: stranger.user, subtype: 'operation', outcome: '4' }));
    expect(refusals).to.have.length(3);
  });

  it('a doctor (no compliance.auditEvents.search) is refused', async () => {
    const c = await clinicWithReads(1);
    const { cookie } = sessionCookie(c.clinic, c.doctor);
    const res = await consoleGet(`/console/patient-report?patient=${c.patient}`, cookie);
    expect(res.status).to.equal(403);
    expect(res.text).to.not.include('Who accessed your record');
  });
});
