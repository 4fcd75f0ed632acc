import { expect } from 'chai';
import { setClinicPolicy } from '../../server/admin/access-policy';
import { AdminError } from '../../server/admin/tenancy';
import { actor, admin, api, newUser, tokenFor } from '../helpers/server';
import { created, medicationRequestBody, newPatient } from '../helpers/resources';
import { auditRows, operation } from './helpers';

type Auth = Record<string, string>;

async function member(clinicId: string, role: string): Promise<{ user: string; auth: Auth }> {
  const user = await newUser(clinicId, role);
  return { user, auth: { Authorization: `Bearer ${await tokenFor({ clinicId, userId: user, scope: 'user/*.cruds' })}` } };
}

describe('the clinic access policy and care relationships', () => {
  it('the operator sets the policy (admin CLI), recorded as a privileged change; a bad value changes nothing', async () => {
    const a = await actor('clinic-admin');
    const done = await setClinicPolicy(await admin(), { clinicId: a.clinic, policy: 'care-team' }, { operator: 'ops' });
    expect(done).to.deep.equal({ clinic: a.clinic, policy: 'care-team', previous: 'clinic-wide' });
    const [row] = await auditRows({ clinic_id: a.clinic, type: 'security', subtype: '110131', entity_type: 'ClinicSettings' });
    expect(row.detail).to.deep.include({ old: '{"accessPolicy":"clinic-wide"}', new: '{"accessPolicy":"care-team"}', operator: 'ops' });
    let refused: unknown;
    await setClinicPolicy(await admin(), { clinicId: a.clinic, policy: 'everyone' }).catch((e: unknown) => { refused = e; });
    expect(refused).to.be.instanceOf(AdminError);
    const [clinic] = await (await admin())('clinic').where({ id: a.clinic });
    expect(clinic.access_policy).to.equal('care-team');
  });

  it('only a role with settings.clinic.manage changes it over the API; a refusal is audited and an unknown policy is 422', async () => {
    const a = await actor('clinic-admin');
    const doctor = await member(a.clinic, 'doctor');
    expect((await operation(doctor.auth, '$set-access-policy', { policy: 'care-team' })).status).to.equal(403);
    const [refusal] = await auditRows({ user_id: doctor.user, outcome: '4' });
    expect(refusal.subtype).to.equal('110131');
    const bad = await operation(a.auth, '$set-access-policy', { policy: 'open' });
    expect(bad.status).to.equal(422);
    expect(bad.body.issue[0].expression).to.deep.equal(['policy']);
    const [clinic] = await (await admin())('clinic').where({ id: a.clinic });
    expect(clinic.access_policy).to.equal('clinic-wide');
  });

  it('an assigned doctor shares the record for at most 30 days; $unassign ends the assignment; a doctor may not $assign', async () => {
    const a = await actor('clinic-admin');
    const patient = await newPatient(a.auth, 'Shared');
    const rx = await created(a.auth, 'MedicationRequest', medicationRequestBody(patient));
    expect((await operation(a.auth, '$set-access-policy', { policy: 'care-team' })).status).to.equal(200);
    const owner = await member(a.clinic, 'doctor');
    const colleague = await member(a.clinic, 'nurse');
    const read = async (auth: Auth) => (await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(auth)).status;

    expect((await operation(owner.auth, `Patient/${patient}/$assign`, { user: owner.user })).status).to.equal(403);
    expect((await operation(owner.auth, `Patient/${patient}/$share`, { user: colleague.user })).status).to.equal(403);
    expect((await operation(a.auth, `Patient/${patient}/$assign`, { user: owner.user })).status).to.equal(200);
    expect(await read(owner.auth)).to.equal(200);
    expect(await read(colleague.auth)).to.equal(404);

    const tooLong = new Date(Date.now() + 31 * 86_400_000).toISOString();
    const long = await operation(owner.auth, `Patient/${patient}/$share`, { user: colleague.user, end: tooLong });
    expect(long.status).to.equal(422);
    expect(long.body.issue[0].expression).to.deep.equal(['end']);
    expect((await operation(owner.auth, `Patient/${patient}/$share`, { user: colleague.user })).status).to.equal(200);
    expect(await read(colleague.auth)).to.equal(200);

    const stranger = await actor('doctor');
    const foreign = await operation(a.auth, `Patient/${patient}/$assign`, { user: stranger.user });
    expect(foreign.status, 'a user of another clinic').to.equal(422);

    expect((await operation(a.auth, `Patient/${patient}/$unassign`, { user: owner.user })).status).to.equal(200);
    expect(await read(owner.auth)).to.equal(404);
  });
});
