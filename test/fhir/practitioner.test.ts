import { expect } from 'chai';
import { grantDirectoryKeys } from '../../db/migrations/027_practitioner';
import { ADMIN_ROLE } from '../../db/roles';
import { AdminError, createUser, setRolePermissions, setUserPractitioner } from '../../server/admin/tenancy';
import { grants } from '../../server/auth/permissions';
import { created, post, put, refusalsOf } from '../helpers/resources';
import { actor, admin, api, newClinic, patientBody, testServer } from '../helpers/server';
import { decodeJwt, publicClient, staffFixture, urls } from '../oauth/helpers';
import { authorizationCode, exchange } from '../oauth/flows';
import { ScriptedBrowser } from '../oauth/scripted-browser';
import { adminCli } from '../helpers/cli';

type Auth = Record<string, string>;

const practitioner = (family: string, given: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Practitioner', name: [{ family, given: [given] }], active: true, ...extra,
});

async function ids(auth: Auth, query: string): Promise<string[]> {
  const res = await (await api()).get(`/fhir/Practitioner?${query}`).set(auth);
  expect(res.status, res.text.slice(0, 300)).to.equal(200);
  return ((res.body.entry ?? []) as Array<{ resource: { id: string } }>).map((e) => e.resource.id).sort();
}

describe('Practitioner: the staff directory', () => {
  let clinicAdmin: Awaited<ReturnType<typeof actor>>;
  let quill: string;
  let marsh: string;

  before(async () => {
    clinicAdmin = await actor('clinic-admin');
    quill = await created(clinicAdmin.auth, 'Practitioner', practitioner('Quill', 'Ada', { identifier: [{ system: 'urn:npi', value: 'NPI-1' }] }));
    marsh = await created(clinicAdmin.auth, 'Practitioner', practitioner('Marsh', 'Ben', { active: false }));
  });

  it('a clinic admin creates, reads, updates, reads an old version of, and deletes a Practitioner', async () => {
    const a = await api();
    const id = await created(clinicAdmin.auth, 'Practitioner', practitioner('Temp', 'Tom'));
    const read = await a.get(`/fhir/Practitioner/${id}`).set(clinicAdmin.auth);
    expect(read.status).to.equal(200);
    expect(read.body.name[0].family).to.equal('Temp');
    const updated = await put(clinicAdmin.auth, 'Practitioner', id, { ...practitioner('Tempest', 'Tom'), id });
    expect(updated.status, updated.text).to.equal(200);
    expect(updated.body.meta.versionId).to.equal('2');
    expect((await a.get(`/fhir/Practitioner/${id}/_history/1`).set(clinicAdmin.auth)).body.name[0].family).to.equal('Temp');
    expect((await a.delete(`/fhir/Practitioner/${id}`).set(clinicAdmin.auth)).status).to.be.oneOf([200, 204]);
    expect((await a.get(`/fhir/Practitioner/${id}`).set(clinicAdmin.auth)).status).to.equal(410);
  });

  it('a Practitioner without a name is refused by the clinic profile (422)', async () => {
    const res = await post(clinicAdmin.auth, 'Practitioner', { resourceType: 'Practitioner', active: true });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('clinic-practitioner');
  });

  it('a doctor reads and searches the directory, but creating, updating or deleting is refused with 403, each audited', async () => {
    const doctor = await actor('doctor', 'user/*.cruds', clinicAdmin.clinic);
    const a = await api();
    expect((await a.get(`/fhir/Practitioner/${quill}`).set(doctor.auth)).status).to.equal(200);
    expect(await ids(doctor.auth, 'family=quill')).to.deep.equal([quill]);
    expect((await post(doctor.auth, 'Practitioner', practitioner('Self', 'Made'))).status).to.equal(403);
    expect((await put(doctor.auth, 'Practitioner', quill, { ...practitioner('Renamed', 'Ada'), id: quill })).status).to.equal(403);
    expect((await a.delete(`/fhir/Practitioner/${quill}`).set(doctor.auth)).status).to.equal(403);
    const refusals = await refusalsOf(doctor.user);
    expect(refusals.map((r) => r.subtype).sort()).to.deep.equal(['create', 'delete', 'update']);
    expect(refusals.every((r) => /directory\.practitioners\.(create|update|delete)/.test(r.outcomeDesc)), JSON.stringify(refusals)).to.equal(true);
  });

  it('searches by _id, identifier, name, family, given and active', async () => {
    const auth = clinicAdmin.auth;
    expect(await ids(auth, `_id=${quill}`)).to.deep.equal([quill]);
    expect(await ids(auth, 'identifier=urn:npi|NPI-1')).to.deep.equal([quill]);
    expect(await ids(auth, 'identifier=NPI-2')).to.deep.equal([]);
    expect(await ids(auth, 'name=mar')).to.deep.equal([marsh]);
    expect(await ids(auth, 'family:exact=Quill')).to.deep.equal([quill]);
    expect(await ids(auth, 'given=ben')).to.deep.equal([marsh]);
    expect(await ids(auth, 'active=true')).to.deep.equal([quill]);
    expect(await ids(auth, 'active=false')).to.deep.equal([marsh]);
  });

  it("another clinic's token gets 404 for this clinic's Practitioner and finds nothing by search", async () => {
    const other = await actor('clinic-admin');
    expect((await (await api()).get(`/fhir/Practitioner/${quill}`).set(other.auth)).status).to.equal(404);
    expect(await ids(other.auth, 'family=quill')).to.deep.equal([]);
    expect(await ids(other.auth, `_id=${quill}`)).to.deep.equal([]);
  });

  it('a patient/ token reads only the Practitioner its Patient names as general practitioner, and writes none', async () => {
    const patient = await created(clinicAdmin.auth, 'Patient', patientBody('Gray', { generalPractitioner: [{ reference: `Practitioner/${quill}` }] }));
    const app = await actor('doctor', 'patient/Practitioner.rs patient/Patient.rs', clinicAdmin.clinic, patient);
    const a = await api();
    expect((await a.get(`/fhir/Practitioner/${quill}`).set(app.auth)).status).to.equal(200);
    expect((await a.get(`/fhir/Practitioner/${marsh}`).set(app.auth)).status).to.equal(404);
    expect(await ids(app.auth, '_id=' + [quill, marsh].join(','))).to.deep.equal([quill]);
    expect(await ids(app.auth, 'active=false')).to.deep.equal([]);
    const included = await a.get(`/fhir/Patient?_id=${patient}&_include=Patient:general-practitioner`).set(app.auth);
    expect(included.body.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType).sort()).to.deep.equal(['Patient', 'Practitioner']);

    // A new general practitioner moves the visibility with it.
    const moved = await put(clinicAdmin.auth, 'Patient', patient, { ...patientBody('Gray', { generalPractitioner: [{ reference: `Practitioner/${marsh}` }] }), id: patient });
    expect(moved.status).to.equal(200);
    expect((await a.get(`/fhir/Practitioner/${quill}`).set(app.auth)).status).to.equal(404);
    expect((await a.get(`/fhir/Practitioner/${marsh}`).set(app.auth)).status).to.equal(200);

    // Staff-wide on Patient, patient/ on Practitioner: the included practitioners are confined in SQL
    // (the transaction is not confined to the patient), to the context patient's general practitioner.
    const other = await created(clinicAdmin.auth, 'Patient', patientBody('Hale', { generalPractitioner: [{ reference: `Practitioner/${quill}` }] }));
    const mixed = await actor('doctor', 'user/Patient.rs patient/Practitioner.rs', clinicAdmin.clinic, patient);
    const both = await a.get(`/fhir/Patient?_id=${patient},${other}&_include=Patient:general-practitioner`).set(mixed.auth);
    expect(both.status).to.equal(200);
    const got = (both.body.entry as Array<{ resource: { resourceType: string; id: string } }>).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();
    expect(got).to.deep.equal([`Patient/${other}`, `Patient/${patient}`, `Practitioner/${marsh}`].sort());

    const writer = await actor('clinic-admin', 'patient/Practitioner.cruds', clinicAdmin.clinic, patient);
    const sneaky = await post(writer.auth, 'Practitioner', practitioner('Sneaky', 'Sam'));
    const renamed = await put(writer.auth, 'Practitioner', marsh, { ...practitioner('Marsh', 'Renamed'), id: marsh });
    expect([sneaky.status, renamed.status]).to.deep.equal([403, 403]);
    expect((await a.get(`/fhir/Practitioner/${marsh}`).set(clinicAdmin.auth)).body.name[0].given).to.deep.equal(['Ben']);
  });
});

describe('Users linked to their Practitioner (fhirUser)', () => {
  const cli = (...args: string[]) => adminCli(args);

  it('`user create --practitioner` links the user; the CLI token names it as fhirUser, and that URL reads with 200', async () => {
    const boss = await actor('clinic-admin');
    const id = await created(boss.auth, 'Practitioner', practitioner('Linked', 'Lee'));
    const made = await cli('user', 'create', '--clinic', boss.clinic, '--email', `lee.${Date.now()}@test.example`, '--role', 'nurse', '--practitioner', id);
    expect(made.code, made.stderr).to.equal(0);
    const user = JSON.parse(made.stdout) as { id: string; practitioner: string };
    expect(user.practitioner).to.equal(`Practitioner/${id}`);
    const token = (await cli('token', '--clinic', boss.clinic, '--user', user.id, '--scope', 'user/Practitioner.rs')).stdout.trim();
    const fhirUser = String(decodeJwt(token).fhirUser);
    expect(fhirUser).to.equal(`${(await testServer()).cfg.fhirBaseUrl}/Practitioner/${id}`);
    const res = await (await api()).get(new URL(fhirUser).pathname).set('Authorization', `Bearer ${token}`);
    expect(res.status).to.equal(200);
    expect(res.body.id).to.equal(id);
  });

  it('a SMART sign-in of a linked user yields an access and ID token whose fhirUser reads with 200', async () => {
    const staff = await staffFixture('doctor');
    const boss = await actor('clinic-admin', 'user/*.cruds', staff.clinic);
    const id = await created(boss.auth, 'Practitioner', practitioner('Signed', 'Sue'));
    await setUserPractitioner(await admin(), { clinicId: staff.clinic, userId: staff.user, practitionerId: id });
    const redirect = 'http://127.0.0.1:9/practitioner/callback';
    const clientId = await publicClient(staff.clinic, redirect);
    const { code, pkce } = await authorizationCode(new ScriptedBrowser(), staff, clientId, redirect, { over: { scope: 'openid fhirUser user/Practitioner.rs' } });
    const t = await exchange(clientId, redirect, code, pkce.verifier);
    const access = String(t.json.access_token);
    const fhirUser = String(decodeJwt(access).fhirUser);
    expect(fhirUser).to.equal(`${(await urls()).fhir}/Practitioner/${id}`);
    expect(decodeJwt(String(t.json.id_token)).fhirUser).to.equal(fhirUser);
    const res = await fetch(fhirUser, { headers: { Authorization: `Bearer ${access}` } });
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { id: string }).id).to.equal(id);
  });

  it("a link to another clinic's Practitioner, or to a missing one, is refused and leaves no user behind", async () => {
    const here = await newClinic();
    const there = await actor('clinic-admin');
    const theirs = await created(there.auth, 'Practitioner', practitioner('Elsewhere', 'Eve'));
    for (const practitionerId of [theirs, '00000000-0000-4000-8000-000000000000']) {
      const email = `eve.${Math.random().toString(36).slice(2)}@test.example`;
      let error: unknown;
      try { await createUser(await admin(), { clinicId: here, email, role: 'doctor', practitionerId }); } catch (e) { error = e; }
      expect(error).to.be.instanceOf(AdminError);
      expect((error as Error).message).to.match(/has no Practitioner/);
      expect(await (await admin())('app_user').whereRaw('lower(email) = lower(?)', [email]).first('id')).to.equal(undefined);
    }
    // The check borrows a member's clinic context inside the function only: the admin transaction keeps none.
    const after = await (await admin()).transaction(async (trx) => {
      await trx.raw(`set local role ${ADMIN_ROLE}`);
      const { rows } = await trx.raw("select practitioner_linkable(?, ?, ?) as ok, current_setting('app.clinic_id', true) as clinic, current_setting('app.user_id', true) as usr",
        [there.clinic, there.user, theirs]);
      return rows[0] as { ok: boolean; clinic: string | null; usr: string | null };
    });
    expect(after.ok).to.equal(true);
    expect(after.clinic ?? '').to.equal('');
    expect(after.usr ?? '').to.equal('');
  });

  it('one Practitioner is linked to one user of a clinic', async () => {
    const boss = await actor('clinic-admin');
    const id = await created(boss.auth, 'Practitioner', practitioner('Only', 'One'));
    await setUserPractitioner(await admin(), { clinicId: boss.clinic, userId: boss.user, practitionerId: id });
    const email = `two.${Math.random().toString(36).slice(2)}@test.example`;
    let error: unknown;
    try { await createUser(await admin(), { clinicId: boss.clinic, email, role: 'doctor', practitionerId: id }); } catch (e) { error = e; }
    expect((error as Error).message).to.match(/already linked/);
  });
});

describe('Directory keys of the default roles', () => {
  it("new clinics' roles hold them; migration 027 adds them to existing roles and keeps what else a role holds", async () => {
    const { clinic, token } = await actor('nurse');
    expect(token).to.be.a('string');
    const roleOf = async (trx: typeof db, name: string) => (await trx('role').where({ clinic_id: clinic, name }).first('permissions')).permissions as unknown;
    const db = await admin();
    expect(grants(await roleOf(db, 'front-desk'), 'directory.practitioners.search')).to.equal(true);
    expect(grants(await roleOf(db, 'front-desk'), 'directory.practitioners.create')).to.equal(false);
    expect(grants(await roleOf(db, 'clinic-admin'), 'directory.practitioners.delete')).to.equal(true);

    // A role as it stood before 027 (no directory module), edited by its clinic.
    await setRolePermissions(db, { clinicId: clinic, role: 'billing', permissions: { clinical: { patients: { view: true } } } });
    await db.transaction(async (trx) => {
      await trx.raw(`set local role ${ADMIN_ROLE}`);
      await grantDirectoryKeys(trx);
      const billing = await roleOf(trx as unknown as typeof db, 'billing');
      expect(billing).to.deep.equal({ clinical: { patients: { view: true } }, directory: { practitioners: { view: true, search: true } } });
      await trx.rollback();
    }).catch((e: unknown) => { if (e instanceof Error && e.message !== 'Transaction rejected with non-error: undefined') throw e; });
  });
});
