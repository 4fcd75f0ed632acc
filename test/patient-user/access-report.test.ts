import { expect } from 'chai';
import type { AuditEvent, Bundle, Parameters, ParametersParameter } from 'fhir/r4';
import { createUser } from '../../server/admin/tenancy';
import { recordAudit } from '../../server/audit/writer';
import { auditEvents } from '../helpers/audit';
import { breakGlass, operation, out, REASON } from '../care/helpers';
import { actor, admin, api, FHIR, patientBody, testServer, tokenFor } from '../helpers/server';

type Row = Record<string, string | number>;

/** The report's rows as plain objects (part name -> value). */
function rowsOf(p: Parameters): Row[] {
  return (p.parameter ?? []).filter((x) => x.name === 'row').map((r) => Object.fromEntries((r.part ?? []).map((part: ParametersParameter) => {
    const value = Object.entries(part).find(([k]) => k.startsWith('value'))?.[1] as string | number;
    return [part.name, value];
  })));
}

describe('The patient\'s own access report and access trail', function () {
  this.timeout(120_000);
  let clinic: string;
  let doctorId: string;
  let doctor: Record<string, string>;
  let mine: string;
  let other: string;
  let patient: Record<string, string>;
  let otherPatient: Record<string, string>;
  let today: string;

  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
  const report = async (who: Record<string, string>, id: string, query = '') => (await api()).get(`/fhir/Patient/${id}/$access-report${query}`).set(who);

  before(async () => {
    // The reads below must fall on one UTC day: a run that reaches them just before midnight waits for it.
    const toMidnight = 86_400_000 - (Date.now() % 86_400_000);
    if (toMidnight < 60_000) await new Promise((r) => setTimeout(r, toMidnight + 1000));
    today = new Date().toISOString().slice(0, 10);
    const d = await actor('doctor');
    clinic = d.clinic;
    doctor = d.auth;
    const create = async (family: string) => (await (await api()).post('/fhir/Patient').set(doctor).set('Content-Type', FHIR).send(patientBody(family))).body.id as string;
    mine = await create('Reported');
    other = await create('Neighbour');
    doctorId = (await createUser(await admin(), { clinicId: clinic, email: `dr.report.${Date.now()}@test.example`, role: 'doctor', displayName: 'Dr Ada Report' })).id;
    const u1 = await createUser(await admin(), { clinicId: clinic, email: `pat.mine.${Date.now()}@test.example`, role: 'patient', patientId: mine });
    const u2 = await createUser(await admin(), { clinicId: clinic, email: `pat.other.${Date.now()}@test.example`, role: 'patient', patientId: other });
    patient = bearer(await tokenFor({ clinicId: clinic, userId: u1.id, scope: 'patient/*.rs', patientId: mine, fhirUser: `Patient/${mine}` }));
    otherPatient = bearer(await tokenFor({ clinicId: clinic, userId: u2.id, scope: 'patient/*.rs', patientId: other, fhirUser: `Patient/${other}` }));

    const named = bearer(await tokenFor({ clinicId: clinic, userId: doctorId, scope: 'user/*.cruds' }));
    for (let i = 0; i < 30; i++) expect((await (await api()).get(`/fhir/Patient/${mine}`).set(named)).status).to.equal(200);
    // Two reads of a prescription under an emergency grant, as the pipeline records them (purpose of use BTG, the grant named).
    const runtime = (await testServer()).db.runtime;
    for (let i = 0; i < 2; i++) {
      await recordAudit(runtime, {
        interaction: 'read', action: 'R', outcome: '0', clinicId: clinic, userId: doctorId, roleName: 'doctor',
        resourceType: 'MedicationRequest', resourceId: '7d9f3b52-34c5-4d0e-9a4c-0e8f1c2b3a41', patientIds: [mine],
        purposeOfUse: 'BTG', detail: { grant: 'grant-7f1c' },
      });
    }
  });

  it('collapses 30 reads by one doctor on one day into one row with count 30 and marks the emergency access with its grant', async () => {
    const res = await report(patient, mine);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const body = res.body as Parameters;
    expect(body.resourceType).to.equal('Parameters');
    const rows = rowsOf(body).filter((r) => r.accessor === 'Dr Ada Report');
    expect(rows).to.have.length(2);
    const care = rows.find((r) => r.purpose === 'care')!;
    expect(care).to.include({ day: today, role: 'doctor', kind: 'viewed', data: 'demographics', count: 30 });
    const emergency = rows.find((r) => r.purpose === 'emergency access')!;
    expect(emergency).to.include({ day: today, kind: 'viewed', data: 'medications', count: 2, grant: 'grant-7f1c' });
    expect(care).to.not.have.property('grant');
  });

  it('a real break-glass access shows its category and reason, and how to revoke it until the patient does', async () => {
    const er = await actor('doctor', 'user/*.cruds', clinic);
    const granted = await breakGlass(er.auth, mine);
    expect(granted.status).to.equal(201);
    const grant = String(out(granted, 'grant'));
    expect((await (await api()).get(`/fhir/Patient/${mine}`).set(er.auth)).status).to.equal(200);
    const open = rowsOf((await report(patient, mine)).body as Parameters).find((r) => r.grant === grant);
    expect(open).to.include({ purpose: 'emergency access', category: 'emergency-treatment', reason: REASON, count: 1 });
    expect(String(open?.revoke)).to.include('$break-glass-revoke');
    expect((await operation(patient, `Patient/${mine}/$break-glass-revoke`, { grant })).status).to.equal(200);
    const closed = rowsOf((await report(patient, mine)).body as Parameters).find((r) => r.grant === grant);
    expect(closed).to.include({ category: 'emergency-treatment' });
    expect(closed).to.not.have.property('revoke');
  });

  it('reading the report is audited in the patient\'s trail', async () => {
    const before = (await auditEvents((q) => q.where({ clinic_id: clinic, patient_id: mine, subtype: 'operation', outcome: '0' }))).length;
    expect((await report(patient, mine)).status).to.equal(200);
    const after = await auditEvents((q) => q.where({ clinic_id: clinic, patient_id: mine, subtype: 'operation', outcome: '0' }));
    expect(after).to.have.length(before + 1);
  });

  it('another patient\'s token gets 404 for it, and the refusal is audited', async () => {
    const res = await report(otherPatient, mine);
    expect(res.status).to.equal(404);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    const refused = await auditEvents((q) => q.where({ clinic_id: clinic, patient_id: mine, subtype: 'operation', outcome: '4' }));
    expect(refused.length).to.be.greaterThan(0);
  });

  it('a compliance officer gets 200; a doctor (no compliance.auditEvents.search) gets 403', async () => {
    const officer = await actor('compliance-officer', 'user/AuditEvent.rs', clinic);
    const res = await report(officer.auth, mine);
    expect(res.status).to.equal(200);
    expect(rowsOf(res.body as Parameters).some((r) => r.accessor === 'Dr Ada Report' && r.count === 30)).to.equal(true);
    expect((await report(doctor, mine)).status).to.equal(403);
  });

  it('a compliance officer of another clinic gets 404', async () => {
    const officer = await actor('compliance-officer', 'user/AuditEvent.rs');
    expect((await report(officer.auth, mine)).status).to.equal(404);
  });

  it('bad dates get 400 naming the parameter, audited, and a window without accesses has no rows', async () => {
    for (const q of ['?from=2024-13-01', '?from=2024-02-30', '?to=yesterday', '?from=2024-03-02&to=2024-03-01', '?from=2020-01-01&to=2024-01-01']) {
      const res = await report(patient, mine, q);
      expect(res.status, q).to.equal(400);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    }
    const refusals = await auditEvents((q) => q.where({ clinic_id: clinic, patient_id: mine, subtype: 'operation' }).whereLike('outcome_desc', '%date%'));
    expect(refusals.length).to.be.greaterThan(0);
    const old = await report(patient, mine, '?from=2020-01-01&to=2020-01-31');
    expect(old.status).to.equal(200);
    expect(rowsOf(old.body as Parameters)).to.deep.equal([]);
  });

  it('a patient\'s token searches AuditEvent for its own events only', async () => {
    const own = await (await api()).get(`/fhir/AuditEvent?patient=${mine}&_count=1000`).set(patient);
    expect(own.status).to.equal(200);
    const ownEntries = (own.body as Bundle).entry ?? [];
    expect(ownEntries.length).to.be.greaterThan(30);
    const theirs = await (await api()).get(`/fhir/AuditEvent?patient=${other}&_count=1000`).set(patient);
    expect(theirs.status).to.equal(200);
    expect((theirs.body as Bundle).entry ?? []).to.deep.equal([]);
    expect(await auditEvents((q) => q.where({ clinic_id: clinic, patient_id: other }))).to.not.deep.equal([]);
    // Without patient=: only events about this patient, never another's or one without a patient.
    const all = await (await api()).get('/fhir/AuditEvent?_count=1000').set(patient);
    expect(all.status).to.equal(200);
    const entries = (all.body as Bundle).entry ?? [];
    // (The trail grew by the searches just made, which are about this patient too.)
    expect(entries.length).to.be.at.least(ownEntries.length);
    const clinicRows = await auditEvents((q) => q.where({ clinic_id: clinic }));
    expect(clinicRows.length).to.be.greaterThan(entries.length);
    // Every event is about this patient (its patient entities name only it); the agent may be anyone who touched the record.
    for (const e of entries) {
      const patients = ((e.resource as AuditEvent).entity ?? []).filter((x) => x.type?.code === '1').map((x) => x.what?.reference);
      expect(patients, JSON.stringify(e.resource)).to.deep.equal([`Patient/${mine}`]);
    }
  });
});
