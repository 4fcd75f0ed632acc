import { expect } from 'chai';
import { actor, admin, api, FHIR, testServer } from '../helpers/server';
import {
  appointmentBody, created, documentReferenceBody, medicationRequestBody, newPatient, post, put, refusalsOf,
} from '../helpers/resources';

type Issue = { expression?: string[]; diagnostics?: string };
const issuesOf = (body: { issue?: Issue[] }) => body.issue ?? [];

describe('References stay inside the clinic', () => {
  let a: Awaited<ReturnType<typeof actor>>;
  let b: Awaited<ReturnType<typeof actor>>;
  let ownPatient: string;
  let foreignPatient: string;
  const missing = '7d0e8f3a-1111-4222-8333-944455556666';

  before(async () => {
    a = await actor('clinic-admin');
    b = await actor('clinic-admin');
    ownPatient = await newPatient(a.auth, 'Own');
    foreignPatient = await newPatient(b.auth, 'Foreign');
  });

  it("a MedicationRequest for another clinic's patient gets the same 422 as one for a patient that does not exist", async () => {
    const foreign = await post(a.auth, 'MedicationRequest', medicationRequestBody(foreignPatient));
    const absent = await post(a.auth, 'MedicationRequest', medicationRequestBody(missing));
    expect([foreign.status, absent.status]).to.deep.equal([422, 422]);
    expect(foreign.body.resourceType).to.equal('OperationOutcome');
    expect(issuesOf(foreign.body)[0].expression).to.deep.equal(['MedicationRequest.subject']);
    // Same words, only the id differs: nothing says the other clinic's patient exists.
    const shape = (r: { body: { issue?: Issue[] } }, id: string) => JSON.stringify(r.body.issue).replace(id, 'ID');
    expect(shape(foreign, foreignPatient)).to.equal(shape(absent, missing));
    expect((await (await api()).get('/fhir/MedicationRequest?_summary=count').set(a.auth)).body.total).to.equal(0);
  });

  it('the refusal is audited for the caller with a failure outcome', async () => {
    const refusals = await refusalsOf(a.user);
    expect(refusals.some((r) => r.subtype === 'create' && r.entity.includes('MedicationRequest'))).to.equal(true);
  });

  it('a deleted patient, and an id that is not one of ours, cannot be referenced', async () => {
    const gone = await newPatient(a.auth, 'Gone');
    expect((await (await api()).delete(`/fhir/Patient/${gone}`).set(a.auth)).status).to.equal(204);
    const deleted = await post(a.auth, 'DocumentReference', documentReferenceBody(gone));
    expect(deleted.status).to.equal(422);
    expect(issuesOf(deleted.body)[0].expression).to.deep.equal(['DocumentReference.subject']);
    const example = await post(a.auth, 'DocumentReference', documentReferenceBody('example'));
    expect(example.status).to.equal(422);
  });

  it('every bad reference is named by its element path, in arrays too', async () => {
    const res = await post(a.auth, 'Appointment', appointmentBody(ownPatient, {
      participant: [
        { actor: { reference: `Patient/${ownPatient}` }, status: 'accepted' },
        { actor: { reference: `Patient/${foreignPatient}` }, status: 'accepted' },
      ],
      supportingInformation: [{ reference: `DocumentReference/${missing}` }],
    }));
    expect(res.status).to.equal(422);
    expect(issuesOf(res.body).map((i) => i.expression?.[0]).sort()).to.deep.equal([
      'Appointment.participant[1].actor', 'Appointment.supportingInformation[0]',
    ]);
  });

  it('references to types this server does not serve are kept as they are', async () => {
    const body = medicationRequestBody(ownPatient, {
      requester: { reference: 'Practitioner/f007' },
      encounter: { reference: 'Encounter/f001' },
      medicationCodeableConcept: undefined,
      medicationReference: { reference: 'Medication/med0316' },
    });
    const res = await post(a.auth, 'MedicationRequest', body);
    expect(res.status, res.text.slice(0, 300)).to.equal(201);
    expect(res.body.requester).to.deep.equal({ reference: 'Practitioner/f007' });
    expect(res.body.medicationReference).to.deep.equal({ reference: 'Medication/med0316' });
  });

  it('a reference to a resource of a served type in the same clinic is accepted, including versioned and contained ones', async () => {
    const doc = await created(a.auth, 'DocumentReference', documentReferenceBody(ownPatient));
    const res = await post(a.auth, 'Appointment', appointmentBody(ownPatient, {
      supportingInformation: [{ reference: `DocumentReference/${doc}/_history/1` }, { reference: '#note' }],
      contained: [{ resourceType: 'Basic', id: 'note', code: { text: 'note' } }],
    }));
    expect(res.status, res.text.slice(0, 300)).to.equal(201);
  });

  it('an external patient on the compartment path is refused: the row would belong to nobody we hold', async () => {
    const res = await post(a.auth, 'MedicationRequest', medicationRequestBody(ownPatient, {
      subject: { reference: `https://elsewhere.example/fhir/Patient/${ownPatient}` },
    }));
    expect(res.status).to.equal(422);
    expect(issuesOf(res.body)[0].expression).to.deep.equal(['MedicationRequest.subject']);
  });

  it("an absolute URL on this server's own base is a local reference, checked like Patient/x", async () => {
    const base = (await testServer()).cfg.fhirBaseUrl;
    const own = await post(a.auth, 'MedicationRequest', medicationRequestBody(ownPatient, { subject: { reference: `${base}/Patient/${ownPatient}` } }));
    expect(own.status, own.text.slice(0, 300)).to.equal(201);
    const foreign = await post(a.auth, 'MedicationRequest', medicationRequestBody(ownPatient, { subject: { reference: `${base}/Patient/${foreignPatient}` } }));
    expect(foreign.status).to.equal(422);
  });

  it('update and patch are checked the same way, and a refused one changes nothing', async () => {
    const id = await created(a.auth, 'MedicationRequest', medicationRequestBody(ownPatient));
    const upd = await put(a.auth, 'MedicationRequest', id, { ...medicationRequestBody(foreignPatient), id });
    expect(upd.status).to.equal(422);
    const patch = await (await api()).patch(`/fhir/MedicationRequest/${id}`).set(a.auth).set('Content-Type', 'application/json-patch+json')
      .send(JSON.stringify([{ op: 'replace', path: '/subject/reference', value: `Patient/${foreignPatient}` }]));
    expect(patch.status).to.equal(422);
    expect(issuesOf(patch.body)[0].expression).to.deep.equal(['MedicationRequest.subject']);
    const now = await (await api()).get(`/fhir/MedicationRequest/${id}`).set(a.auth);
    expect(now.body.meta.versionId).to.equal('1');
    expect(now.body.subject.reference).to.equal(`Patient/${ownPatient}`);
  });

  it('a conditional reference outside a transaction is refused rather than stored unresolved', async () => {
    const res = await post(a.auth, 'Appointment', appointmentBody(ownPatient, {
      supportingInformation: [{ reference: 'DocumentReference?identifier=urn:docs|D-1' }],
    }));
    expect(res.status).to.equal(422);
    expect(issuesOf(res.body)[0].expression).to.deep.equal(['Appointment.supportingInformation[0]']);
  });

  it("nothing of the other clinic's patient was touched or linked", async () => {
    const db = await admin();
    const rows = await db('medication_request').where({ patient_id: foreignPatient, clinic_id: a.clinic });
    expect(rows).to.have.length(0);
    const res = await (await api()).get(`/fhir/Patient/${foreignPatient}`).set(b.auth).set('Content-Type', FHIR);
    expect(res.body.meta.versionId).to.equal('1');
  });
});
