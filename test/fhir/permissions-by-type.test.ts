import { expect } from 'chai';
import { actor, api } from '../helpers/server';
import {
  appointmentBody, created, documentReferenceBody, medicationRequestBody, newPatient, post, put, refusalsOf,
} from '../helpers/resources';

/** Each type is guarded by its own permission module; the default roles grant per ARCHITECTURE.md. */
describe('Permissions per resource type', () => {
  let admin: Awaited<ReturnType<typeof actor>>;
  let patient: string;
  let appointment: string;
  let prescription: string;
  let document: string;

  before(async () => {
    admin = await actor('clinic-admin');
    patient = await newPatient(admin.auth);
    appointment = await created(admin.auth, 'Appointment', appointmentBody(patient));
    prescription = await created(admin.auth, 'MedicationRequest', medicationRequestBody(patient));
    document = await created(admin.auth, 'DocumentReference', documentReferenceBody(patient));
  });

  it('front desk books and reschedules an Appointment', async () => {
    const desk = await actor('front-desk', 'user/*.cruds', admin.clinic);
    const id = await created(desk.auth, 'Appointment', appointmentBody(patient));
    const moved = await put(desk.auth, 'Appointment', id, { ...appointmentBody(patient, { start: '2026-03-11T09:00:00Z', end: '2026-03-11T09:30:00Z' }), id });
    expect(moved.status).to.equal(200);
  });

  it('front desk gets 403 on MedicationRequest and DocumentReference, each refusal audited', async () => {
    const desk = await actor('front-desk', 'user/*.cruds', admin.clinic);
    const a = await api();
    const answers = [
      (await post(desk.auth, 'MedicationRequest', medicationRequestBody(patient))).status,
      (await a.get(`/fhir/MedicationRequest/${prescription}`).set(desk.auth)).status,
      (await a.get('/fhir/MedicationRequest').set(desk.auth)).status,
      (await post(desk.auth, 'DocumentReference', documentReferenceBody(patient))).status,
      (await a.get(`/fhir/DocumentReference/${document}`).set(desk.auth)).status,
      (await a.get(`/fhir/DocumentReference?patient=${patient}`).set(desk.auth)).status,
    ];
    expect(answers).to.deep.equal([403, 403, 403, 403, 403, 403]);
    const refusals = await refusalsOf(desk.user);
    const seen = refusals.map((r) => `${r.subtype} ${r.entity.split(/[ /]/)[0]}`).sort();
    expect(seen).to.deep.equal([
      'create DocumentReference', 'create MedicationRequest', 'read DocumentReference',
      'read MedicationRequest', 'search-type DocumentReference', 'search-type MedicationRequest',
    ]);
    expect(refusals.every((r) => /Access denied/.test(r.outcomeDesc))).to.equal(true);
  });

  it('a pharmacist reads and searches Appointments but gets 403 creating, updating or deleting one, each audited', async () => {
    const pharmacist = await actor('pharmacist', 'user/*.cruds', admin.clinic);
    const a = await api();
    expect((await a.get(`/fhir/Appointment/${appointment}`).set(pharmacist.auth)).status).to.equal(200);
    expect((await a.get(`/fhir/Appointment?patient=${patient}`).set(pharmacist.auth)).status).to.equal(200);
    expect((await post(pharmacist.auth, 'Appointment', appointmentBody(patient))).status).to.equal(403);
    expect((await put(pharmacist.auth, 'Appointment', appointment, { ...appointmentBody(patient), id: appointment })).status).to.equal(403);
    expect((await a.delete(`/fhir/Appointment/${appointment}`).set(pharmacist.auth)).status).to.equal(403);
    const seen = (await refusalsOf(pharmacist.user)).map((r) => r.subtype).sort();
    expect(seen).to.deep.equal(['create', 'delete', 'update']);
  });

  it('a pharmacist updates a prescription but may not write one', async () => {
    const pharmacist = await actor('pharmacist', 'user/*.cruds', admin.clinic);
    const id = await created(admin.auth, 'MedicationRequest', medicationRequestBody(patient));
    expect((await put(pharmacist.auth, 'MedicationRequest', id, { ...medicationRequestBody(patient, { status: 'completed' }), id })).status).to.equal(200);
    expect((await post(pharmacist.auth, 'MedicationRequest', medicationRequestBody(patient))).status).to.equal(403);
  });

  it('a doctor may not delete a prescription (stopped by status instead); a clinic admin may', async () => {
    const doctor = await actor('doctor', 'user/*.cruds', admin.clinic);
    const id = await created(doctor.auth, 'MedicationRequest', medicationRequestBody(patient));
    const a = await api();
    expect((await a.delete(`/fhir/MedicationRequest/${id}`).set(doctor.auth)).status).to.equal(403);
    expect((await a.delete(`/fhir/MedicationRequest/${id}`).set(admin.auth)).status).to.equal(204);
  });

  it('a compliance officer sees no clinical data of any type', async () => {
    const officer = await actor('compliance-officer', 'user/*.read', admin.clinic);
    const a = await api();
    for (const [type, id] of [['Appointment', appointment], ['MedicationRequest', prescription], ['DocumentReference', document]]) {
      expect((await a.get(`/fhir/${type}/${id}`).set(officer.auth)).status, type).to.equal(403);
      expect((await a.get(`/fhir/${type}`).set(officer.auth)).status, type).to.equal(403);
    }
    expect(await refusalsOf(officer.user)).to.have.length(6);
  });

  it('scopes narrow the role: a doctor holding only user/Appointment.rs cannot write Appointments or read prescriptions', async () => {
    const doctor = await actor('doctor', 'user/Appointment.rs', admin.clinic);
    const a = await api();
    expect((await a.get(`/fhir/Appointment/${appointment}`).set(doctor.auth)).status).to.equal(200);
    expect((await post(doctor.auth, 'Appointment', appointmentBody(patient))).status).to.equal(403);
    expect((await a.get(`/fhir/MedicationRequest/${prescription}`).set(doctor.auth)).status).to.equal(403);
  });
});
