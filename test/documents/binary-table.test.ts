import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import '../../server/fhir/resources'; // declares the served types to the permission tree
import { APP_ROLE, OWNER_ROLE } from '../../db/roles';
import { authorize } from '../../server/auth/authorize';
import { defaultRoles, permissionKey, permissionKeys } from '../../server/auth/permissions';
import { parseScopes } from '../../server/auth/scopes';
import { knownKeys } from '../../server/documents/binary-table';
import { actor, admin, testServer } from '../helpers/server';
import { newPatient } from '../helpers/resources';
import { binaryId, binaryRows, samplePdf } from './http-helpers';

describe('documents: Binary permissions and the document_binary table', () => {
  it('Binary is guarded by the clinical.documents keys: upload = create, download = view', () => {
    expect(permissionKey('Binary', 'create')).to.equal('clinical.documents.create');
    expect(permissionKey('Binary', 'view')).to.equal('clinical.documents.view');
    expect(permissionKey('DocumentReference', 'view')).to.equal('clinical.documents.view');
    // No new permission keys: roles edited before keep their meaning.
    expect(permissionKeys().filter((k) => /binary/i.test(k))).to.deep.equal([]);
    const who = (role: string, scope = 'user/*.cruds') => ({ scopes: parseScopes(scope).resource, rolePermissions: defaultRoles()[role] });
    const decide = (role: string, interaction: 'create' | 'read', scope?: string) => authorize(who(role, scope), 'Binary', interaction).allowed;
    expect([decide('doctor', 'create'), decide('doctor', 'read')]).to.deep.equal([true, true]);
    expect([decide('nurse', 'create'), decide('nurse', 'read')]).to.deep.equal([true, true]);
    for (const role of ['front-desk', 'billing', 'pharmacist', 'compliance-officer']) {
      expect([decide(role, 'create'), decide(role, 'read')], role).to.deep.equal([false, false]);
    }
    // A SMART scope for another type does not open Binary.
    expect(decide('doctor', 'read', 'user/DocumentReference.rs')).to.equal(false);
    expect(decide('doctor', 'read', 'user/Binary.r')).to.equal(true);
  });

  it('document_binary forces RLS: clinic isolation, a restrictive patient compartment, and no DELETE for the app', async () => {
    const db = await admin();
    const { rows } = await db.raw(`
      select c.relrowsecurity as rls, c.relforcerowsecurity as forced,
             array(select p.polname::text from pg_policy p where p.polrelid = c.oid order by 1) as policies,
             array(select p.polname::text from pg_policy p where p.polrelid = c.oid and not p.polpermissive order by 1) as restrictive
        from pg_class c where c.relname = 'document_binary' and c.relnamespace = 'public'::regnamespace`);
    expect(rows[0]).to.deep.equal({
      rls: true, forced: true, policies: ['care_team', 'isolate_clinic', 'orphan_sweep_lookup', 'patient_compartment'], restrictive: ['care_team', 'patient_compartment'],
    });
    const grants = await db.raw(`select has_table_privilege(?, 'document_binary', 'DELETE') as del, has_table_privilege(?, 'document_binary', 'TRUNCATE') as trunc,
      has_column_privilege(?, 'document_binary', 'object_key', 'UPDATE') as rekey`, [APP_ROLE, APP_ROLE, APP_ROLE]);
    expect(grants.rows[0]).to.deep.equal({ del: false, trunc: false, rekey: false });
  });

  it('with rows present, the app role without a clinic and the owner see none; the sweep lookup names only known keys', async () => {
    const doctor = await actor('doctor');
    const patient = await newPatient(doctor.auth, 'Table');
    await binaryId(doctor.auth, patient, samplePdf());
    const [row] = await binaryRows(patient);
    const db = await admin();
    for (const role of [APP_ROLE, OWNER_ROLE]) {
      const n = await db.transaction(async (trx) => {
        await trx.raw(`set local role ${role}`);
        return (await trx.raw('select count(*)::int as n from document_binary')).rows[0].n as number;
      });
      expect(n, role).to.equal(0);
    }
    const made = `clinics/${doctor.clinic}/patients/${patient}/${randomUUID()}/${randomUUID()}`;
    const { db: runtime } = await testServer();
    expect([...await knownKeys(runtime.runtime, [row.object_key, made])]).to.deep.equal([row.object_key]);
    // The lookup switch does not outlive the function: the app role still sees nothing after it.
    const after = await db.transaction(async (trx) => {
      await trx.raw(`set local role ${APP_ROLE}`);
      await trx.raw('select * from document_binary_keys_known(?::text[])', [[row.object_key]]);
      return (await trx.raw('select count(*)::int as n from document_binary')).rows[0].n as number;
    });
    expect(after).to.equal(0);
  });

  it('the database refuses a row whose key is outside its clinic and patient, or whose patient is of another clinic', async () => {
    const a = await actor('doctor');
    const b = await actor('doctor');
    const pa = await newPatient(a.auth, 'RowA');
    const pb = await newPatient(b.auth, 'RowB');
    const db = await admin();
    const insert = (clinic: string, patient: string, key: string, id = key.split('/').pop()) => db('document_binary').insert({
      id, clinic_id: clinic, patient_id: patient, object_key: key, content_type: 'application/pdf', size: 1, sha1: 'A'.repeat(27) + '=',
    });
    const id = randomUUID();
    await expectRefused(insert(a.clinic, pa, `clinics/${b.clinic}/patients/${pa}/${id}/${id}`), 'key of another clinic');
    await expectRefused(insert(a.clinic, pb, `clinics/${a.clinic}/patients/${pb}/${id}/${id}`), 'patient of another clinic');
    await expectRefused(insert(a.clinic, pa, `clinics/${a.clinic}/patients/${pa}/${id}/${randomUUID()}`, id), 'key not ending in the id');
    // The control: the same row with a key of its own clinic, patient and id is accepted.
    await insert(a.clinic, pa, `clinics/${a.clinic}/patients/${pa}/${id}/${id}`);
  });
});

async function expectRefused(work: PromiseLike<unknown>, what: string): Promise<void> {
  let failed = false;
  try {
    await work;
  } catch {
    failed = true;
  }
  expect(failed, what).to.equal(true);
}
