import { expect } from 'chai';
import { actor, admin, api, newUser, tokenFor } from '../helpers/server';
import { created, medicationRequestBody, newPatient, searchIds } from '../helpers/resources';
import { binaryId, docBody, samplePdf } from '../documents/http-helpers';
import { breakGlass, operation } from './helpers';

type Auth = Record<string, string>;
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const labelled = (code: 'R' | 'V') => ({ meta: { security: [{ system: CONFIDENTIALITY, code }] } });

async function member(clinicId: string, role: string): Promise<{ user: string; auth: Auth }> {
  const user = await newUser(clinicId, role);
  return { user, auth: { Authorization: `Bearer ${await tokenFor({ clinicId, userId: user, scope: 'user/*.cruds' })}` } };
}

/** Records labelled R (restricted) or V (very restricted) in meta.security, in a `clinic-wide` clinic. */
describe('restricted records (v3-Confidentiality R and V) in a clinic-wide clinic', () => {
  let clinic: string;
  let clinicAdmin: Auth;
  let patient: string;
  let plain: string;
  let restricted: string;
  let veryRestricted: string;
  let assigned: { user: string; auth: Auth };
  let unassigned: { user: string; auth: Auth };

  before(async () => {
    const a = await actor('clinic-admin');
    clinic = a.clinic;
    clinicAdmin = a.auth;
    patient = await newPatient(clinicAdmin, 'Labelled');
    assigned = await member(clinic, 'doctor');
    unassigned = await member(clinic, 'doctor');
    // The clinic admin writes the labelled records under an assignment of its own (a write must stay visible to its writer).
    const me = await operation(clinicAdmin, `Patient/${patient}/$assign`, { user: a.user });
    expect(me.status, me.text).to.equal(200);
    expect((await operation(clinicAdmin, `Patient/${patient}/$assign`, { user: assigned.user })).status).to.equal(200);
    plain = await created(clinicAdmin, 'MedicationRequest', medicationRequestBody(patient));
    restricted = await created(clinicAdmin, 'MedicationRequest', medicationRequestBody(patient, labelled('R')));
    veryRestricted = await created(clinicAdmin, 'MedicationRequest', medicationRequestBody(patient, labelled('V')));
  });

  it('the label is extracted on write into its column', async () => {
    const rows = await (await admin())('medication_request').whereIn('id', [plain, restricted, veryRestricted]).select('id', 'security_label');
    const byId = Object.fromEntries(rows.map((r: { id: string; security_label: string | null }) => [r.id, r.security_label]));
    expect(byId).to.deep.equal({ [plain]: null, [restricted]: 'R', [veryRestricted]: 'V' });
  });

  it('an unassigned doctor sees the unlabelled record only: R is refused as suppressed, V is absent', async () => {
    const a = await api();
    expect((await a.get(`/fhir/MedicationRequest/${plain}`).set(unassigned.auth)).status).to.equal(200);
    const r = await a.get(`/fhir/MedicationRequest/${restricted}`).set(unassigned.auth);
    expect(r.status).to.equal(403);
    expect(r.body.issue[0].code).to.equal('suppressed');
    expect((await a.get(`/fhir/MedicationRequest/${veryRestricted}`).set(unassigned.auth)).status).to.equal(404);
    expect(await searchIds(unassigned.auth, 'MedicationRequest', `patient=${patient}`)).to.deep.equal([plain]);
    const total = await a.get(`/fhir/MedicationRequest?patient=${patient}&_total=accurate&_summary=count`).set(unassigned.auth);
    expect(total.body.total).to.equal(1);
  });

  it('an assigned doctor sees all three', async () => {
    expect(await searchIds(assigned.auth, 'MedicationRequest', `patient=${patient}`)).to.deep.equal([plain, restricted, veryRestricted].sort());
    expect((await (await api()).get(`/fhir/MedicationRequest/${veryRestricted}`).set(assigned.auth)).status).to.equal(200);
  });

  it('after break-glass the R record opens, and the V record stays hidden', async () => {
    const res = await breakGlass(unassigned.auth, patient);
    expect(res.status, res.text).to.equal(201);
    const a = await api();
    expect((await a.get(`/fhir/MedicationRequest/${restricted}`).set(unassigned.auth)).status).to.equal(200);
    expect((await a.get(`/fhir/MedicationRequest/${veryRestricted}`).set(unassigned.auth)).status).to.equal(404);
    expect(await searchIds(unassigned.auth, 'MedicationRequest', `patient=${patient}`)).to.deep.equal([plain, restricted].sort());
  });

  it('a labelled record\'s older, unlabelled version does not leak through history', async () => {
    const body = medicationRequestBody(patient);
    const id = await created(clinicAdmin, 'MedicationRequest', body);
    const upd = await (await api()).put(`/fhir/MedicationRequest/${id}`).set(clinicAdmin).set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ ...body, id, ...labelled('V') }));
    expect(upd.status, upd.text).to.equal(200);
    const other = await member(clinic, 'nurse');
    expect((await (await api()).get(`/fhir/MedicationRequest/${id}/_history/1`).set(other.auth)).status).to.equal(404);
    expect((await (await api()).get(`/fhir/MedicationRequest/${id}/_history`).set(other.auth)).status).to.equal(404);
  });

  it('a restricted Patient is hidden from search by an unassigned user; its demographics stay with those in its care', async () => {
    const hidden = await created(clinicAdmin, 'Patient', { resourceType: 'Patient', name: [{ family: 'Hidden' }], ...labelled('R') });
    const billing = await member(clinic, 'billing');
    expect(await searchIds(billing.auth, 'Patient', `_id=${hidden}`)).to.deep.equal([]);
    expect((await (await api()).get(`/fhir/Patient/${hidden}`).set(billing.auth)).status).to.equal(404);
    expect(await searchIds(clinicAdmin, 'Patient', `_id=${hidden}`)).to.deep.equal([]);
    expect((await operation(clinicAdmin, `Patient/${hidden}/$assign`, { user: billing.user })).status).to.equal(200);
    expect(await searchIds(billing.auth, 'Patient', `_id=${hidden}`)).to.deep.equal([hidden]);
  });
});

describe('documents in a care-team clinic', () => {
  it('a DocumentReference and its Binary are absent to an unassigned user and served to an assigned one', async () => {
    const a = await actor('clinic-admin');
    const patient = await newPatient(a.auth, 'Docs');
    const bin = await binaryId(a.auth, patient, samplePdf(2048));
    const doc = await created(a.auth, 'DocumentReference', docBody(patient, { contentType: 'application/pdf', url: `Binary/${bin}` }));
    expect((await operation(a.auth, '$set-access-policy', { policy: 'care-team' })).status).to.equal(200);
    const nurse = await member(a.clinic, 'nurse');
    const agent = await api();
    const refused = await agent.get(`/fhir/DocumentReference/${doc}`).set(nurse.auth);
    expect(refused.status).to.equal(404);
    expect(refused.text).to.not.include(`Binary/${bin}`);
    expect((await agent.get(`/fhir/Binary/${bin}`).set(nurse.auth)).status).to.equal(404);
    expect(await searchIds(nurse.auth, 'DocumentReference', `patient=${patient}`)).to.deep.equal([]);
    expect((await operation(a.auth, `Patient/${patient}/$assign`, { user: nurse.user })).status).to.equal(200);
    const read = await agent.get(`/fhir/DocumentReference/${doc}`).set(nurse.auth);
    expect(read.status).to.equal(200);
    expect(JSON.stringify(read.body)).to.match(/X-Amz-Signature|Signature=/);
    expect((await agent.get(`/fhir/Binary/${bin}`).set(nurse.auth)).status).to.be.oneOf([200, 302, 303, 307]);
  });
});
