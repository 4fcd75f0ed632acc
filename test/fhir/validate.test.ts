import crypto from 'node:crypto';
import { expect } from 'chai';
import { auditOf } from '../helpers/audit';
import { appointmentBody, documentReferenceBody, newPatient, PDF_BASE64 } from '../helpers/resources';
import { actor, admin, api, FHIR, patientBody } from '../helpers/server';

type Auth = Record<string, string>;
type Issue = { severity: string; code: string; diagnostics?: string; expression?: string[] };

async function validate(auth: Auth, path: string, body: unknown) {
  const req = (await api()).post(`/fhir/${path}`).set(auth).set('Content-Type', FHIR);
  return body === undefined ? req : req.send(JSON.stringify(body));
}

const errorsOf = (body: { issue: Issue[] }) => body.issue.filter((i) => i.severity === 'error');
const rowCount = async (table: string, clinic: string) => Number((await (await admin())(table).where({ clinic_id: clinic }).count({ n: '*' }))[0].n);

describe('$validate: would this create, update or delete succeed?', () => {
  let doc: Awaited<ReturnType<typeof actor>>;
  let patient: string;

  before(async () => {
    doc = await actor('doctor');
    patient = await newPatient(doc.auth, 'Validated');
  });

  it('a valid Patient at type level answers 200 with an information issue and writes nothing but its AuditEvent', async () => {
    const before = await rowCount('patient', doc.clinic);
    const res = await validate(doc.auth, 'Patient/$validate', patientBody('Fine'));
    expect(res.status, res.text).to.equal(200);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    expect(errorsOf(res.body)).to.have.length(0);
    expect(res.body.issue[0]).to.include({ severity: 'information' });
    expect(await rowCount('patient', doc.clinic)).to.equal(before);
    const trail = await auditOf(doc.user);
    expect(trail.at(-1)).to.include({ subtype: 'validate', action: 'E', outcome: '0' });
  });

  it('an invalid resource answers 200 with error issues naming the element, and nothing is stored', async () => {
    const before = await rowCount('patient', doc.clinic);
    const res = await validate(doc.auth, 'Patient/$validate', { ...patientBody('Bad'), gender: 'robot', birthDate: '2020-02-31' });
    expect(res.status).to.equal(200);
    const errors = errorsOf(res.body);
    expect(errors.length).to.be.greaterThan(0);
    expect(JSON.stringify(errors)).to.match(/gender|birthDate/);
    expect(await rowCount('patient', doc.clinic)).to.equal(before);
  });

  it('a reference to a patient this clinic does not hold is an error issue, as a create would get 422', async () => {
    const other = await actor('doctor');
    const theirs = await newPatient(other.auth, 'Elsewhere');
    const res = await validate(doc.auth, 'Appointment/$validate', appointmentBody(theirs));
    expect(res.status).to.equal(200);
    expect(JSON.stringify(errorsOf(res.body))).to.include('is not known in this clinic');
    const ok = await validate(doc.auth, 'Appointment/$validate', appointmentBody(patient));
    expect(errorsOf(ok.body)).to.have.length(0);
  });

  it('Parameters{resource, mode} at instance level: update checks the id; delete checks the instance exists', async () => {
    const current = (await (await api()).get(`/fhir/Patient/${patient}`).set(doc.auth)).body;
    const upd = await validate(doc.auth, `Patient/${patient}/$validate`, {
      resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { ...current, active: true } }, { name: 'mode', valueCode: 'update' }],
    });
    expect(upd.status, upd.text).to.equal(200);
    expect(errorsOf(upd.body)).to.have.length(0);
    const wrongId = await validate(doc.auth, `Patient/${patient}/$validate?mode=update`, { ...current, id: '0b7e9a51-3c1f-4b47-9d0e-6f1a2c3d4e5f' });
    expect(errorsOf(wrongId.body).map((i) => i.expression?.[0])).to.include('Patient.id');
    const del = await validate(doc.auth, `Patient/${patient}/$validate?mode=delete`, undefined);
    expect(del.status, del.text).to.equal(200);
    expect(errorsOf(del.body)).to.have.length(0);
    const gone = await validate(doc.auth, 'Patient/0b7e9a51-3c1f-4b47-9d0e-6f1a2c3d4e5f/$validate?mode=delete', undefined);
    expect(errorsOf(gone.body)[0]).to.include({ code: 'not-found' });
    expect((await (await api()).get(`/fhir/Patient/${patient}`).set(doc.auth)).body.meta.versionId).to.equal(current.meta.versionId);
  });

  it('a DocumentReference meets the checks its create would (the attachments), and nothing is stored or bound', async () => {
    const db = await admin();
    const binaries = async () => Number((await db('document_binary').where({ clinic_id: doc.clinic }).count({ n: '*' }))[0].n);
    const held = await (await api()).post('/fhir/DocumentReference').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify(documentReferenceBody(patient)));
    expect(held.status, held.text).to.equal(201);
    const binaryUrl = held.body.content[0].attachment.url as string;
    const binaryId = binaryUrl.split('/').pop() as string;
    const before = await binaries();
    const docsBefore = await rowCount('document_reference', doc.clinic);

    const fine = await validate(doc.auth, 'DocumentReference/$validate', documentReferenceBody(patient));
    expect(fine.status, fine.text).to.equal(200);
    expect(errorsOf(fine.body)).to.deep.equal([]);

    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]).toString('base64');
    const cases: Array<[string, unknown, RegExp]> = [
      ['a type outside the allow-list (the profile says so first)', { contentType: 'text/plain', data: PDF_BASE64 }, /expected one of application\/pdf/],
      ['bytes that are not the declared type', { contentType: 'application/pdf', data: png }, /^Attachment content is not application\/pdf$/],
      ['a size that is not the content\'s', { contentType: 'application/pdf', data: PDF_BASE64, size: 1 }, /size do not match/],
      ['a Binary another document holds', { url: binaryUrl }, /belongs to another DocumentReference/],
      ['a Binary of no document of this patient', { url: `Binary/${crypto.randomUUID()}` }, /is not a document of this patient/],
    ];
    for (const [what, attachment, message] of cases) {
      const res = await validate(doc.auth, 'DocumentReference/$validate', documentReferenceBody(patient, { content: [{ attachment }] }));
      expect(res.status, what).to.equal(200);
      const errors = errorsOf(res.body);
      expect(errors, what).to.have.length(1);
      expect(errors[0].diagnostics, what).to.match(message);
    }
    expect(await binaries()).to.equal(before);
    expect(await rowCount('document_reference', doc.clinic)).to.equal(docsBefore);
    const [row] = await db('document_binary').where({ id: binaryId }).select('document_id');
    expect(row.document_id).to.equal(held.body.id);
  });

  it('a request it cannot read is a 4xx OperationOutcome, audited as a refusal', async () => {
    const cases: Array<[string, unknown, number]> = [
      ['Patient/$validate?mode=destroy', patientBody(), 400],
      ['Patient/$validate', { resourceType: 'Appointment' }, 400],
      ['Patient/$validate', undefined, 400],
      ['Patient/$validate?mode=delete', undefined, 400],
      ['Patient/$validate', { resourceType: 'Parameters', parameter: [{ name: 'profile', valueUri: 'x' }] }, 400],
      ['Patient/not-a-uuid/$validate', patientBody(), 404],
      ['Spaceship/$validate', patientBody(), 404],
    ];
    for (const [path, body, status] of cases) {
      const res = await validate(doc.auth, path, body);
      expect(res.status, `${path}: ${res.text}`).to.equal(status);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    }
    const refusals = (await auditOf(doc.user)).filter((e) => e.subtype === 'validate' && e.outcome === '4');
    expect(refusals.length).to.be.greaterThan(4);
  });

  it('validating needs the permission of the interaction it checks: front-desk may not validate a MedicationRequest', async () => {
    const desk = await actor('front-desk', 'user/*.cruds', doc.clinic);
    const res = await validate(desk.auth, 'MedicationRequest/$validate', { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patient}` }, medicationCodeableConcept: { text: 'x' } });
    expect(res.status).to.equal(403);
    expect((await auditOf(desk.user)).at(-1)).to.include({ subtype: 'validate', outcome: '4' });
  });
});
