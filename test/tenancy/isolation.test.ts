import { auditEvents } from '../helpers/audit';
import { expect } from 'chai';
import { OWNER_ROLE } from '../../db/roles';
import { actor, admin, api, FHIR, newUser, patientBody, testServer, tokenFor } from '../helpers/server';

const TENANT_TABLES = ['clinic', 'app_user', 'membership', 'role', 'patient', 'patient_history', 'audit_event', 'audit_event_patient'];

describe('Clinic isolation by Row Level Security', () => {
  let a: Awaited<ReturnType<typeof actor>>;
  let b: Awaited<ReturnType<typeof actor>>;
  let patientA: string;

  before(async () => {
    a = await actor('doctor');
    b = await actor('doctor');
    const res = await (await api()).post('/fhir/Patient').set(a.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Isolated')));
    expect(res.status).to.equal(201);
    patientA = res.body.id;
  });

  it("clinic B's token gets 404 for clinic A's patient on read, delete and history, search finds nothing, and a PUT creates B's own", async () => {
    const c = await api();
    expect((await c.get(`/fhir/Patient/${patientA}`).set(b.auth)).status).to.equal(404);
    expect((await c.get(`/fhir/Patient/${patientA}/_history/1`).set(b.auth)).status).to.equal(404);
    expect((await c.get(`/fhir/Patient/${patientA}/_history`).set(b.auth)).status).to.equal(404);
    expect((await c.delete(`/fhir/Patient/${patientA}`).set(b.auth)).status).to.equal(404);
    const s = await c.get(`/fhir/Patient?_id=${patientA}`).set(b.auth);
    expect(s.status).to.equal(200);
    expect(s.body.entry ?? []).to.have.length(0);
    const s2 = await c.get('/fhir/Patient?family=isolated').set(b.auth);
    expect(s2.body.entry ?? []).to.have.length(0);
    // Ids are unique per clinic: B's PUT of the same id is an update-as-create of B's own record.
    const upd = await c.put(`/fhir/Patient/${patientA}`).set(b.auth).set('Content-Type', FHIR).send(JSON.stringify({ ...patientBody('Hijack'), id: patientA }));
    expect(upd.status).to.equal(201);
    const still = await c.get(`/fhir/Patient/${patientA}`).set(a.auth);
    expect(still.status).to.equal(200);
    expect(still.body.meta.versionId).to.equal('1');
    expect(still.body.name[0].family).to.equal('Isolated');
    expect((await c.get(`/fhir/Patient/${patientA}`).set(b.auth)).body.name[0].family).to.equal('Hijack');
  });

  it("the 404s are audited in clinic B's trail with a failure outcome", async () => {
    const rows = await auditEvents((q) => q.where({ clinic_id: b.clinic, outcome: '4' }));
    const subtypes = rows.map((r) => r.subtype?.[0].code);
    expect(subtypes).to.include.members(['read', 'vread', 'history-instance', 'delete']);
  });

  it('a token naming a clinic the user does not belong to gets 403 and sees nothing', async () => {
    const forged = await tokenFor({ clinicId: a.clinic, userId: b.user, scope: 'user/*.cruds' });
    const res = await (await api()).get(`/fhir/Patient/${patientA}`).set('Authorization', `Bearer ${forged}`);
    expect(res.status).to.equal(403);
    expect(res.body.resourceType).to.equal('OperationOutcome');
  });

  it('the app role with no clinic set, and the table owner, see zero rows in every tenant table', async () => {
    const db = await admin();
    const s = await testServer();
    for (const role of ['fhir_app', OWNER_ROLE]) {
      for (const table of TENANT_TABLES) {
        const n = await db.transaction(async (trx) => {
          await trx.raw(`set local role ${role}`);
          return (await trx.raw(`select count(*)::int as n from ${table}`)).rows[0].n;
        });
        expect(n, `${role} on ${table}`).to.equal(0);
      }
    }
    // The same through the real runtime login, with no context set.
    const n = await s.db.runtime.transaction(async (trx) => {
      await trx.raw("select set_config('role', 'fhir_app', true)");
      return (await trx.raw('select count(*)::int as n from patient')).rows[0].n;
    });
    expect(n).to.equal(0);
    // Sanity: the rows do exist (the superuser bypasses RLS), so zero above means RLS hid them.
    expect(Number((await db('patient').count({ n: '*' }))[0].n)).to.be.greaterThan(0);
  });

  it('a forged app.clinic_id without a membership opens nothing', async () => {
    const s = await testServer();
    const n = await s.db.runtime.transaction(async (trx) => {
      await trx.raw('select app_begin(?::uuid, ?::uuid, null)', [a.clinic, b.user]);
      return (await trx.raw('select count(*)::int as n from patient')).rows[0].n;
    });
    expect(n).to.equal(0);
  });

  it('the runtime login cannot read tenant tables without switching to the app role', async () => {
    const s = await testServer();
    let error: unknown;
    await s.db.runtime.raw('select count(*) from patient').catch((e) => { error = e; });
    expect(String(error)).to.match(/permission denied/);
  });

  it('a patient-scoped token sees only its patient', async () => {
    const c = await api();
    const other = await c.post('/fhir/Patient').set(a.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Neighbour')));
    const userId = await newUser(a.clinic, 'doctor');
    const token = await tokenFor({ clinicId: a.clinic, userId, scope: 'patient/*.read', patientId: patientA });
    const h = { Authorization: `Bearer ${token}` };
    expect((await c.get(`/fhir/Patient/${patientA}`).set(h)).status).to.equal(200);
    expect((await c.get(`/fhir/Patient/${other.body.id}`).set(h)).status).to.equal(404);
    const all = await c.get('/fhir/Patient').set(h);
    expect(all.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal([patientA]);
    const write = await c.post('/fhir/Patient').set(h).set('Content-Type', FHIR).send(JSON.stringify(patientBody('New')));
    expect(write.status).to.equal(403);
  });

  it('a compliance officer gets 403 on Patient and the refusal is in the audit trail', async () => {
    const officer = await actor('compliance-officer', 'user/*.read', a.clinic);
    const c = await api();
    const res = await c.get(`/fhir/Patient/${patientA}`).set(officer.auth);
    expect(res.status).to.equal(403);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    const trail = await c.get(`/fhir/AuditEvent?agent=${officer.user}&outcome=4`).set(officer.auth);
    expect(trail.status, trail.text).to.equal(200);
    const refused = trail.body.entry.map((e: { resource: { subtype: Array<{ code: string }>; outcomeDesc: string } }) => e.resource);
    expect(refused.some((r: { subtype: Array<{ code: string }> }) => r.subtype[0].code === 'read')).to.equal(true);
  });

  it('the audit trail is append-only, even for the superuser', async () => {
    const db = await admin();
    for (const sql of ['update audit_event set outcome = \'0\'', 'delete from audit_event', 'truncate audit_event']) {
      let error: unknown;
      await db.raw(sql).catch((e) => { error = e; });
      expect(String(error), sql).to.match(/append-only/);
    }
    const s = await testServer();
    let error: unknown;
    await s.db.runtime.transaction(async (trx) => {
      await trx.raw('select app_begin(?::uuid, ?::uuid, null)', [a.clinic, a.user]);
      await trx.raw('delete from audit_event');
    }).catch((e) => { error = e; });
    expect(String(error)).to.match(/permission denied|append-only/);
  });
});
