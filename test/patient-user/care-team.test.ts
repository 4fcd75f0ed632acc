import { expect } from 'chai';
import { createUser } from '../../server/admin/tenancy';
import { operation } from '../care/helpers';
import { actor, admin, api, tokenFor } from '../helpers/server';
import { created, medicationRequestBody, newPatient, searchIds } from '../helpers/resources';

describe('A patient account in a care-team clinic', () => {
  it('reads its own prescriptions without any assignment, and still nobody else\'s; an unassigned doctor sees neither', async () => {
    const clinicAdmin = await actor('clinic-admin');
    const mine = await newPatient(clinicAdmin.auth, 'CareOwn');
    const other = await newPatient(clinicAdmin.auth, 'CareOther');
    const myRx = await created(clinicAdmin.auth, 'MedicationRequest', medicationRequestBody(mine));
    const otherRx = await created(clinicAdmin.auth, 'MedicationRequest', medicationRequestBody(other));
    expect((await operation(clinicAdmin.auth, '$set-access-policy', { policy: 'care-team' })).status).to.equal(200);

    const account = await createUser(await admin(), { clinicId: clinicAdmin.clinic, email: `care.pat.${Date.now()}@test.example`, role: 'patient', patientId: mine });
    const patient = { Authorization: `Bearer ${await tokenFor({ clinicId: clinicAdmin.clinic, userId: account.id, scope: 'patient/*.rs', patientId: mine })}` };
    expect((await (await api()).get(`/fhir/MedicationRequest/${myRx}`).set(patient)).status).to.equal(200);
    expect((await (await api()).get(`/fhir/MedicationRequest/${otherRx}`).set(patient)).status).to.equal(404);
    expect(await searchIds(patient, 'MedicationRequest', '')).to.deep.equal([myRx]);

    const doctor = await actor('doctor', 'user/*.rs', clinicAdmin.clinic);
    expect(await searchIds(doctor.auth, 'MedicationRequest', '')).to.deep.equal([]);
  });
});
