import { expect } from 'chai';
import { withClinic } from '../../server/tenancy/with-clinic';
import { appointmentBody, post, put } from '../helpers/resources';
import { actor, api, newUser, patientBody, testServer, tokenFor } from '../helpers/server';

const ids = (bundle: { entry?: Array<{ resource: { id: string } }> }) => (bundle.entry ?? []).map((e) => e.resource.id);

describe('Search index: token, reference and string search that RLS can use', () => {
  let a: Awaited<ReturnType<typeof actor>>;
  let b: Awaited<ReturnType<typeof actor>>;

  before(async () => {
    a = await actor('doctor');
    b = await actor('doctor');
  });

  it('under RLS the search value itself is an index condition (text range on patient_search), not a filter over the clinic', async () => {
    const s = await testServer();
    const plan = await withClinic(s.db.runtime, { clinicId: a.clinic, userId: a.user }, async ({ trx }) => {
      await trx.raw('set local enable_seqscan = off');
      const { rows } = await trx.raw<{ rows: Array<{ 'QUERY PLAN': string }> }>(
        "explain select id from patient where patient.id in (select id from patient_search where param = 'family' and value >= 'smi' and value < 'smj' and starts_with(value, 'smi'))");
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).to.match(/Index (Only )?Scan using patient_search_value/);
    expect(plan).to.match(/Index Cond: .*param = 'family'.*value >= 'smi'/);
  });

  it("finds an appointment by its second patient participant, and a patient by any of its names' prefixes", async () => {
    const first = (await post(a.auth, 'Patient', patientBody('Indexfirst'))).body.id as string;
    const second = (await post(a.auth, 'Patient', patientBody('Indexsecond', { name: [{ family: 'Indexsecond' }, { family: 'Maidenname' }] }))).body.id as string;
    const appt = await post(a.auth, 'Appointment', appointmentBody(first, {
      participant: [{ actor: { reference: `Patient/${first}` }, status: 'accepted' }, { actor: { reference: `Patient/${second}` }, status: 'accepted' }],
    }));
    expect(appt.status).to.equal(201);
    const found = await (await api()).get(`/fhir/Appointment?patient=${second}`).set(a.auth);
    expect(ids(found.body)).to.deep.equal([appt.body.id]);
    const byMaiden = await (await api()).get('/fhir/Patient?family=maiden').set(a.auth);
    expect(ids(byMaiden.body)).to.deep.equal([second]);
  });

  it('follows updates and deletes: a renamed patient moves, a deleted one leaves', async () => {
    const id = (await post(a.auth, 'Patient', patientBody('Beforename'))).body.id as string;
    expect((await put(a.auth, 'Patient', id, { ...patientBody('Aftername'), id })).status).to.equal(200);
    const c = await api();
    expect(ids((await c.get('/fhir/Patient?family=beforename').set(a.auth)).body)).to.deep.equal([]);
    expect(ids((await c.get('/fhir/Patient?family=aftername').set(a.auth)).body)).to.deep.equal([id]);
    expect((await c.delete(`/fhir/Patient/${id}`).set(a.auth)).status).to.equal(204);
    expect(ids((await c.get('/fhir/Patient?family=aftername').set(a.auth)).body)).to.deep.equal([]);
  });

  it("another clinic's index rows are invisible, even to a direct query of the index table", async () => {
    const id = (await post(a.auth, 'Patient', patientBody('Privatename'))).body.id as string;
    const s = await testServer();
    const seen = await withClinic(s.db.runtime, { clinicId: b.clinic, userId: b.user }, async ({ trx }) =>
      trx('patient_search').where({ id }).count<Array<{ count: string }>>({ count: '*' }));
    expect(Number(seen[0].count)).to.equal(0);
    expect(ids((await (await api()).get('/fhir/Patient?family=privatename').set(b.auth)).body)).to.deep.equal([]);
  });

  it('an AuditEvent search by patient finds the events of searches that showed that patient among others', async () => {
    const p1 = (await post(a.auth, 'Patient', patientBody('Auditmany'))).body.id as string;
    const p2 = (await post(a.auth, 'Patient', patientBody('Auditmany'))).body.id as string;
    expect(ids((await (await api()).get('/fhir/Patient?family=auditmany').set(a.auth)).body)).to.have.members([p1, p2]);
    const officer = await tokenFor({ clinicId: a.clinic, userId: await newUser(a.clinic, 'compliance-officer'), scope: 'user/AuditEvent.rs' });
    const trail = await (await api()).get(`/fhir/AuditEvent?patient=Patient/${p2}&subtype=search-type`).set({ Authorization: `Bearer ${officer}` });
    expect(trail.status).to.equal(200);
    const queries = (trail.body.entry ?? []).map((e: { resource: { entity: Array<{ query?: string }> } }) =>
      Buffer.from(e.resource.entity.find((x) => x.query)?.query ?? '', 'base64').toString());
    expect(queries).to.include('family=auditmany');
  });
});
