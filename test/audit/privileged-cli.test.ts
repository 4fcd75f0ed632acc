import type { AuditEvent, Bundle } from 'fhir/r4';
import { expect } from 'chai';
import { actor, admin, api, newClinic, newUser } from '../helpers/server';
import { changedPaths, changeEvents, cli, statesOf } from './privileged-helpers';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

async function roleRow(clinicId: string, name: string): Promise<{ id: string; permissions: Record<string, unknown> }> {
  return (await admin())('role').where({ clinic_id: clinicId, name }).first('id', 'permissions');
}

describe('Privileged changes made with the admin CLI are AuditEvents with the old and new state', function () {
  this.timeout(120_000);

  it('changing a role\'s permission tree yields exactly one event whose old and new differ in exactly the changed key, naming the --actor', async () => {
    const clinic = await newClinic('Privileged role');
    const nurse = await roleRow(clinic, 'nurse');
    const tree = structuredClone(nurse.permissions) as { clinical: { patients: Record<string, boolean> } };
    expect(tree.clinical.patients.update).to.equal(true);
    tree.clinical.patients.update = false;

    const r = await cli('role', 'set-permissions', '--clinic', clinic, '--role', 'nurse', '--json', JSON.stringify(tree), '--actor', 'alice@ops-desk');
    expect(r.code, r.stderr).to.equal(0);

    const events = await changeEvents({ clinic_id: clinic, subtype: '110136' });
    expect(events).to.have.length(1);
    const [e] = events;
    expect(e.action).to.equal('U');
    expect(e.outcome).to.equal('0');
    expect(e.type).to.deep.include({ system: DCM, code: '110113' });
    expect(e.subtype?.[0]).to.deep.include({ system: DCM, code: '110136' });
    expect(e.agent[0].who?.display).to.equal('alice@ops-desk');
    expect(e.entity?.[0].what?.display).to.equal(`Role/${nurse.id}`);
    const { old, new: after } = statesOf(e);
    expect(old?.permissions).to.deep.equal(nurse.permissions);
    expect(after?.permissions).to.deep.equal(tree);
    expect(changedPaths(old, after)).to.deep.equal(['permissions.clinical.patients.update']);
  });

  it('"user mfa-enroll" yields one event whose stored row holds neither the printed TOTP secret nor its sealed form', async () => {
    const clinic = await newClinic('Privileged MFA');
    const userId = await newUser(clinic, 'doctor');
    const r = await cli('user', 'mfa-enroll', '--user', userId);
    expect(r.code, r.stderr).to.equal(0);
    const { secret } = JSON.parse(r.stdout) as { secret: string };
    expect(secret).to.match(/^[A-Z2-7]{16,}$/);

    const events = (await changeEvents({ clinic_id: clinic, subtype: '110137', entity_id: userId })).filter((e) => e.outcomeDesc === 'TOTP enrolled');
    expect(events).to.have.length(1);
    expect(events[0].action).to.equal('U');
    const { old, new: after } = statesOf(events[0]);
    expect(old?.totpSecret).to.equal(null);
    expect(after?.totpSecret).to.equal('changed');

    const db = await admin();
    const sealed = (await db('user_credential').where({ user_id: userId }).first('totp_secret')).totp_secret as string;
    const { rows } = await db.raw('select to_jsonb(a)::text as row from audit_event a where id = ?', [events[0].id]) as { rows: Array<{ row: string }> };
    expect(rows).to.have.length(1);
    for (const form of [secret, secret.toLowerCase(), sealed]) expect(rows[0].row).to.not.include(form);
    expect(rows[0].row).to.include('"totpSecret\\":\\"changed\\"');
  });

  it('a change that fails (unknown role) writes no event, and a bad --actor changes nothing', async () => {
    const clinic = await newClinic('Privileged refusal');
    const before = await changeEvents({ clinic_id: clinic });
    const unknown = await cli('role', 'set-permissions', '--clinic', clinic, '--role', 'no-such-role', '--json', '{"clinical":{"patients":{"view":true}}}');
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.match(/has no role "no-such-role"/);
    const badActor = await cli('role', 'set-permissions', '--clinic', clinic, '--role', 'nurse', '--json', '{}', '--actor', ' ');
    expect(badActor.code).to.equal(2);
    expect(badActor.stderr).to.match(/--actor must be/);
    expect((await roleRow(clinic, 'nurse')).permissions).to.not.deep.equal({});
    expect((await changeEvents({ clinic_id: clinic })).map((e) => e.id)).to.deep.equal(before.map((e) => e.id));
  });

  it('a compliance officer finds the changes of the clinic through the API by subtype and by entity, and no other clinic\'s', async () => {
    const officer = await actor('compliance-officer', 'user/AuditEvent.rs');
    const other = await actor('compliance-officer', 'user/AuditEvent.rs');
    const doctor = await roleRow(officer.clinic, 'doctor');
    const r = await cli('role', 'set-permissions', '--clinic', officer.clinic, '--role', 'doctor', '--json', '{"clinical":{"patients":{"view":true}}}');
    expect(r.code, r.stderr).to.equal(0);

    const search = async (auth: Record<string, string>, q: string) => {
      const res = await (await api()).get(`/fhir/AuditEvent?${q}`).set(auth);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return ((res.body as Bundle).entry ?? []).map((x) => x.resource as AuditEvent);
    };
    const bySubtype = await search(officer.auth, 'subtype=110136');
    expect(bySubtype.map((e) => e.entity?.[0].what?.display)).to.deep.equal([`Role/${doctor.id}`]);
    expect(bySubtype[0].entity?.[0].detail?.map((d) => d.type)).to.have.members(['old', 'new']);
    expect((await search(officer.auth, `subtype=${encodeURIComponent(`${DCM}|110136`)}`)).map((e) => e.id)).to.deep.equal(bySubtype.map((e) => e.id));
    expect((await search(officer.auth, `entity=Role/${doctor.id}`)).map((e) => e.id)).to.deep.equal(bySubtype.map((e) => e.id));
    // The clinic's own creation is a Software Configuration change of that clinic.
    expect((await search(officer.auth, 'subtype=110131')).map((e) => e.entity?.[0].what?.display)).to.include(`Clinic/${officer.clinic}`);
    expect(await search(other.auth, 'subtype=110136')).to.deep.equal([]);
    expect(await search(other.auth, `entity=Role/${doctor.id}`)).to.deep.equal([]);
  });
});
