import { expect } from 'chai';
import { recordExpiredGrants } from '../../server/care/expiry';
import { actor, admin, api, FHIR, newUser, testServer, tokenFor } from '../helpers/server';
import { created, medicationRequestBody, newPatient, searchIds } from '../helpers/resources';
import { auditRows, breakGlass, grantEvents, operation, out } from './helpers';

type Auth = Record<string, string>;

async function bearer(clinicId: string, role: string, scope = 'user/*.cruds', patientId?: string): Promise<{ user: string; auth: Auth }> {
  const user = await newUser(clinicId, role);
  return { user, auth: { Authorization: `Bearer ${await tokenFor({ clinicId, userId: user, scope, patientId })}` } };
}

/** In a `care-team` clinic, a patient's clinical records are visible through a care relationship or a break-glass grant only. */
describe('care-team clinic: care relationships and break-glass', () => {
  let clinic: string;
  let clinicAdmin: Auth;
  let patient: string;
  let rx: string;
  let assigned: { user: string; auth: Auth };
  let stranger: { user: string; auth: Auth };
  let pharmacist: { user: string; auth: Auth };
  let desk: { user: string; auth: Auth };
  let compliance: { user: string; auth: Auth };
  let patientApp: Auth;
  let patientUser: string;

  before(async () => {
    const a = await actor('clinic-admin');
    clinic = a.clinic;
    clinicAdmin = a.auth;
    patient = await newPatient(clinicAdmin, 'Careful');
    rx = await created(clinicAdmin, 'MedicationRequest', medicationRequestBody(patient));
    assigned = await bearer(clinic, 'doctor');
    stranger = await bearer(clinic, 'doctor');
    pharmacist = await bearer(clinic, 'pharmacist');
    desk = await bearer(clinic, 'front-desk');
    compliance = await bearer(clinic, 'compliance-officer');
    ({ user: patientUser, auth: patientApp } = await bearer(clinic, 'billing', 'patient/*.read', patient));
    const res = await operation(clinicAdmin, '$set-access-policy', { policy: 'care-team' });
    expect(res.status, res.text).to.equal(200);
    const assign = await operation(desk.auth, `Patient/${patient}/$assign`, { user: assigned.user });
    expect(assign.status, assign.text).to.equal(200);
  });

  it('the policy change is a privileged change in the audit trail, with the old and new policy', async () => {
    // The clinic's creation is a 110131 event too: the policy change is the one about accessPolicy.
    const row = (await auditRows({ clinic_id: clinic, type: 'security', subtype: '110131' }))
      .find((r) => String((r.detail as Record<string, string> | null)?.new ?? '').includes('accessPolicy')) as Record<string, unknown>;
    expect(row.outcome).to.equal('0');
    expect((row.detail as Record<string, string>).old).to.equal('{"accessPolicy":"clinic-wide"}');
    expect((row.detail as Record<string, string>).new).to.equal('{"accessPolicy":"care-team"}');
  });

  it('the assigned doctor reads and finds the prescription', async () => {
    expect((await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(assigned.auth)).status).to.equal(200);
    expect(await searchIds(assigned.auth, 'MedicationRequest', `patient=${patient}`)).to.deep.equal([rx]);
  });

  it('an unassigned pharmacist gets 404 for the prescription: it is absent', async () => {
    const res = await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(pharmacist.auth);
    expect(res.status).to.equal(404);
  });

  it('an unassigned doctor gets 404 for the prescription: outside its care it is absent, with no data', async () => {
    const res = await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(stranger.auth);
    expect(res.status).to.equal(404);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    expect(res.text).to.not.include('197361');
  });

  it('an unassigned doctor finds none in search, _total, _revinclude, history or a Bundle', async () => {
    const a = await api();
    expect(await searchIds(stranger.auth, 'MedicationRequest', `patient=${patient}`)).to.deep.equal([]);
    const total = await a.get(`/fhir/MedicationRequest?patient=${patient}&_total=accurate`).set(stranger.auth);
    expect(total.body.total).to.equal(0);
    const rev = await a.get(`/fhir/Patient?_id=${patient}&_revinclude=MedicationRequest:subject`).set(stranger.auth);
    expect(rev.status).to.equal(200);
    expect((rev.body.entry ?? []).map((e: { resource: { resourceType: string } }) => e.resource.resourceType)).to.deep.equal(['Patient']);
    expect((await a.get(`/fhir/MedicationRequest/${rx}/_history`).set(stranger.auth)).status).to.equal(404);
    expect((await a.get(`/fhir/MedicationRequest/${rx}/_history/1`).set(stranger.auth)).status).to.equal(404);
    const typeHistory = await a.get('/fhir/MedicationRequest/_history').set(stranger.auth);
    expect(typeHistory.body.entry ?? []).to.deep.equal([]);
    const batch = await a.post('/fhir').set(stranger.auth).set('Content-Type', FHIR).send(JSON.stringify({
      resourceType: 'Bundle', type: 'batch',
      entry: [{ request: { method: 'GET', url: `MedicationRequest/${rx}` } }, { request: { method: 'GET', url: `MedicationRequest?patient=${patient}` } }],
    }));
    expect(batch.status).to.equal(200);
    expect(batch.text).to.not.include('197361');
    expect(batch.body.entry[0].response.status).to.match(/^40[34]/);
    expect(batch.body.entry[1].resource.entry ?? []).to.deep.equal([]);
  });

  it('front-desk gets 403 on $break-glass, and the refusal is audited and kept as a refused event', async () => {
    const res = await breakGlass(desk.auth, patient);
    expect(res.status).to.equal(403);
    const [row] = await auditRows({ user_id: desk.user, outcome: '4' });
    expect(row.subtype).to.equal('operation');
    expect(row.entity_id).to.equal(patient);
    expect((row.detail as Record<string, string>).operation).to.equal('$break-glass');
    expect(await grantEvents({ actor: desk.user })).to.deep.equal(['refused']);
  });

  it('a 19-character reason gets 422 naming the parameter, and an unknown category too', async () => {
    // 19 characters once trimmed: the padding does not count.
    const short = await breakGlass(stranger.auth, patient, { reason: `   ${'Needs history now!!'}   ` });
    expect(short.status).to.equal(422);
    expect(short.body.issue[0].expression).to.deep.equal(['reason']);
    expect(short.body.issue[0].diagnostics).to.include('reason');
    expect('Needs history now!!').to.have.length(19);
    const category = await breakGlass(stranger.auth, patient, { category: 'curiosity' });
    expect(category.status).to.equal(422);
    expect(category.body.issue[0].expression).to.deep.equal(['category']);
    const hours = await breakGlass(stranger.auth, patient, { durationHours: 25 });
    expect(hours.status).to.equal(422);
    expect(hours.body.issue[0].expression).to.deep.equal(['durationHours']);
  });

  it('a patient of another clinic answers 404 to $break-glass', async () => {
    const other = await actor('clinic-admin');
    const elsewhere = await newPatient(other.auth, 'Elsewhere');
    expect((await breakGlass(stranger.auth, elsewhere)).status).to.equal(404);
  });

  describe('after $break-glass', () => {
    let grant: string;

    before(async () => {
      const res = await breakGlass(stranger.auth, patient, { durationHours: 2 });
      expect(res.status, res.text).to.equal(201);
      grant = out(res, 'grant') as string;
      const expires = new Date(out(res, 'expiresAt') as string).getTime();
      expect(expires - Date.now()).to.be.within(2 * 3_600_000 - 120_000, 2 * 3_600_000 + 1000);
    });

    it('asking again answers 200 with the same grant', async () => {
      const res = await breakGlass(stranger.auth, patient);
      expect(res.status).to.equal(200);
      expect(out(res, 'grant')).to.equal(grant);
    });

    it('the grant is an Emergency Override Started AuditEvent (110127, BTG) with its category and reason', async () => {
      const [row] = await auditRows({ user_id: stranger.user, type: 'security', subtype: '110127' });
      expect(row.purpose_of_use).to.equal('BTG');
      expect(row.detail).to.deep.include({ grant, category: 'emergency-treatment' });
      expect(await grantEvents({ grant_id: grant })).to.include.members(['requested', 'granted']);
    });

    it('the read is 200 and its AuditEvent carries purpose of use BTG and the grant; the first use is recorded once', async () => {
      const a = await api();
      expect((await a.get(`/fhir/MedicationRequest/${rx}`).set(stranger.auth)).status).to.equal(200);
      expect((await a.get(`/fhir/MedicationRequest/${rx}`).set(stranger.auth)).status).to.equal(200);
      const reads = await auditRows({ user_id: stranger.user, subtype: 'read', entity_id: rx, outcome: '0' });
      expect(reads).to.have.length(2);
      for (const r of reads) {
        expect(r.purpose_of_use).to.equal('BTG');
        expect((r.detail as Record<string, string>).grant).to.equal(grant);
      }
      expect((await grantEvents({ grant_id: grant })).filter((k) => k === 'first-use')).to.have.length(1);
      expect(await searchIds(stranger.auth, 'MedicationRequest', `patient=${patient}`)).to.deep.equal([rx]);
      const searches = await auditRows({ user_id: stranger.user, subtype: 'search-type', outcome: '0' });
      expect(searches[searches.length - 1].purpose_of_use).to.equal('BTG');
    });

    it('the patient, compliance and clinicians list the grant; front-desk may not', async () => {
      for (const who of [patientApp, compliance.auth, assigned.auth]) {
        const res = await (await api()).get(`/fhir/Patient/${patient}/$break-glass`).set(who);
        expect(res.status, res.text).to.equal(200);
        expect(JSON.stringify(res.body)).to.include(grant);
      }
      expect((await (await api()).get(`/fhir/Patient/${patient}/$break-glass`).set(desk.auth)).status).to.equal(403);
    });

    it('compliance reviews it (a privileged change); a doctor may not', async () => {
      expect((await operation(assigned.auth, `Patient/${patient}/$break-glass-review`, { grant, decision: 'appropriate', note: 'ok' })).status).to.equal(403);
      const bad = await operation(compliance.auth, `Patient/${patient}/$break-glass-review`, { grant, decision: 'maybe' });
      expect(bad.status).to.equal(422);
      const res = await operation(compliance.auth, `Patient/${patient}/$break-glass-review`, { grant, decision: 'needs-info', note: 'Which allergy?' });
      expect(res.status, res.text).to.equal(200);
      const [row] = await auditRows({ user_id: compliance.user, type: 'security', subtype: '110136' });
      expect(row.detail).to.deep.include({ grant, old: '{"note":null,"review":"pending"}', new: '{"note":"Which allergy?","review":"needs-info"}' });
      const [g] = await (await admin())('break_glass_grant').where({ id: grant });
      expect(g.review_status).to.equal('needs-info');
    });

    it('after the patient\'s $break-glass-revoke the read is refused again, and the revoke is audited (110138)', async () => {
      const otherPatientApp = (await bearer(clinic, 'billing', 'patient/*.read', await newPatient(clinicAdmin, 'Other'))).auth;
      expect((await operation(otherPatientApp, `Patient/${patient}/$break-glass-revoke`, { grant })).status).to.be.oneOf([403, 404]);
      const res = await operation(patientApp, `Patient/${patient}/$break-glass-revoke`, { grant: { reference: grant } as never });
      expect(res.status, res.text).to.equal(200);
      expect(out(res, 'status')).to.equal('revoked');
      expect((await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(stranger.auth)).status).to.equal(404);
      expect(await searchIds(stranger.auth, 'MedicationRequest', `patient=${patient}`)).to.deep.equal([]);
      const [row] = await auditRows({ clinic_id: clinic, type: 'security', subtype: '110138', user_id: patientUser });
      expect(row.purpose_of_use).to.equal('BTG');
      expect(row.detail).to.deep.include({ grant, revokedBy: `Patient/${patient}` });
      expect(await grantEvents({ grant_id: grant })).to.include('revoked');
    });
  });

  it('a grant whose expiry has passed opens nothing, and its expired event is recorded once', async () => {
    const db = await admin();
    const [g] = await db('break_glass_grant').insert({
      clinic_id: clinic, patient_id: patient, user_id: pharmacist.user, category: 'urgent-continuity', reason: 'Covering the evening dispensing round',
      created_at: db.raw("now() - interval '3 hours'"), expires_at: db.raw("now() - interval '1 hour'"),
    }).returning('id');
    expect((await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(pharmacist.auth)).status).to.equal(404);
    expect(await searchIds(pharmacist.auth, 'MedicationRequest', `patient=${patient}`)).to.deep.equal([]);
    const runtime = (await testServer()).db.runtime;
    await recordExpiredGrants(runtime);
    await recordExpiredGrants(runtime);
    expect(await grantEvents({ grant_id: g.id })).to.deep.equal(['expired']);
    const rows = await auditRows({ clinic_id: clinic, type: 'security', subtype: '110138', user_id: pharmacist.user });
    expect(rows).to.have.length(1);
    expect(rows[0].purpose_of_use).to.equal('BTG');
  });
});
