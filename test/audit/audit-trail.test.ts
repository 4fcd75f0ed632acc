import { expect } from 'chai';
import { actor, admin, api, FHIR, patientBody } from '../helpers/server';

interface Audit { action: string; outcome: string; subtype: Array<{ code: string }>; type: { code: string }; agent: Array<{ altId?: string; requestor: boolean }>; entity: Array<{ what?: { reference?: string }; role?: { code: string } }>; source: { observer: { display: string } } }

describe('Audit trail of Patient interactions', () => {
  let doctor: Awaited<ReturnType<typeof actor>>;
  let officer: Awaited<ReturnType<typeof actor>>;
  let patientId: string;

  before(async () => {
    doctor = await actor('doctor');
    officer = await actor('compliance-officer', 'user/AuditEvent.rs', doctor.clinic);
    const c = await api();
    const created = await c.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Audited')));
    patientId = created.body.id;
    await c.get(`/fhir/Patient/${patientId}`).set(doctor.auth);
    await c.get(`/fhir/Patient/${patientId}/_history/1`).set(doctor.auth);
    await c.put(`/fhir/Patient/${patientId}`).set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify({ ...patientBody('Audited2'), id: patientId }));
    await c.get(`/fhir/Patient?_id=${patientId}`).set(doctor.auth);
    await c.get(`/fhir/Patient/${patientId}/_history`).set(doctor.auth);
    await c.delete(`/fhir/Patient/${patientId}`).set(doctor.auth);
    await c.get(`/fhir/Patient/${patientId}`).set(doctor.auth); // 410
  });

  async function trail(q: string): Promise<Audit[]> {
    const res = await (await api()).get(`/fhir/AuditEvent?${q}&_count=100`).set(officer.auth);
    expect(res.status, res.text).to.equal(200);
    return (res.body.entry ?? []).map((e: { resource: Audit }) => e.resource);
  }

  it('every interaction on the patient left a BALP-shaped AuditEvent', async () => {
    const events = await trail(`patient=${patientId}`);
    const seen = events.map((e) => `${e.subtype[0].code}:${e.action}:${e.outcome}`);
    expect(seen).to.include.members(['create:C:0', 'read:R:0', 'vread:R:0', 'update:U:0', 'search-type:E:0', 'history-instance:R:0', 'delete:D:0', 'read:R:4']);
    const read = events.find((e) => e.subtype[0].code === 'read' && e.outcome === '0') as Audit;
    expect(read.type.code).to.equal('rest');
    expect(read.agent[0].altId).to.equal(doctor.user);
    expect(read.agent[0].requestor).to.equal(true);
    expect(read.source.observer.display).to.equal('clinic-fhir-server');
    expect(read.entity.some((x) => x.what?.reference === `Patient/${patientId}` && x.role?.code === '1')).to.equal(true);
  });

  it('a compliance officer narrows by agent, action, outcome and date', async () => {
    expect((await trail(`patient=${patientId}&agent=${doctor.user}&action=C`)).map((e) => e.action)).to.deep.equal(['C']);
    expect((await trail(`patient=${patientId}&outcome=4`)).every((e) => e.outcome === '4')).to.equal(true);
    // The day the events above were written on, or the one before if they were written just before midnight.
    const day = new Date(Date.now() - 600_000).toISOString().slice(0, 10);
    expect((await trail(`patient=${patientId}&date=ge${day}`)).length).to.be.greaterThan(5);
    expect(await trail(`patient=${patientId}&date=lt2000-01-01`)).to.deep.equal([]);
  });

  it('date and _lastUpdated compare the recorded instant exactly, at every prefix', async () => {
    const events = (await trail(`patient=${patientId}&subtype=create`)) as unknown as Array<{ id: string; recorded: string }>;
    expect(events).to.have.length(1);
    const { id, recorded } = events[0];
    const at = new Date(recorded);
    const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    const t = at.getTime();
    const found = async (q: string) => (await trail(`patient=${patientId}&${q}`)).some((e) => (e as unknown as { id: string }).id === id);
    for (const param of ['date', '_lastUpdated']) {
      expect(await found(`${param}=eq${iso(t)}`), `${param}=eq`).to.equal(true);
      expect(await found(`${param}=ne${iso(t)}`), `${param}=ne`).to.equal(false);
      expect(await found(`${param}=ge${iso(t)}`), `${param}=ge`).to.equal(true);
      expect(await found(`${param}=gt${iso(t)}`), `${param}=gt`).to.equal(false);
      expect(await found(`${param}=gt${iso(t - 1)}`), `${param}=gt -1ms`).to.equal(true);
      expect(await found(`${param}=le${iso(t)}`), `${param}=le`).to.equal(true);
      expect(await found(`${param}=lt${iso(t)}`), `${param}=lt`).to.equal(false);
      expect(await found(`${param}=lt${iso(t + 1)}`), `${param}=lt +1ms`).to.equal(true);
      expect(await found(`${param}=sa${iso(t - 1)}`), `${param}=sa -1ms`).to.equal(true);
      expect(await found(`${param}=sa${iso(t)}`), `${param}=sa`).to.equal(false);
      expect(await found(`${param}=eb${iso(t + 1)}`), `${param}=eb +1ms`).to.equal(true);
      expect(await found(`${param}=eb${iso(t)}`), `${param}=eb`).to.equal(false);
      expect(await found(`${param}=eq${recorded.slice(0, 10)}`), `${param}=eq day`).to.equal(true);
      expect(await found(`${param}=ne${recorded.slice(0, 10)}`), `${param}=ne day`).to.equal(false);
    }
  });

  it('AuditEvent cannot be written over REST (405), by anyone', async () => {
    const c = await api();
    const admin = await actor('clinic-admin', 'user/*.cruds', doctor.clinic);
    const res = await c.post('/fhir/AuditEvent').set(admin.auth).set('Content-Type', FHIR).send('{}');
    expect(res.status).to.equal(405);
    expect(res.body.resourceType).to.equal('OperationOutcome');
  });

  it("a doctor may not read the audit trail; another clinic's officer sees none of it", async () => {
    const c = await api();
    expect((await c.get('/fhir/AuditEvent').set(doctor.auth)).status).to.equal(403);
    const stranger = await actor('compliance-officer', 'user/AuditEvent.rs');
    const res = await c.get(`/fhir/AuditEvent?patient=${patientId}`).set(stranger.auth);
    expect(res.status).to.equal(200);
    expect(res.body.entry ?? []).to.have.length(0);
  });
  it('AuditEvent?patient pages through every event about the patient once, newest first, whether the patient is its only one or one of several', async () => {
    const c = await api();
    const family = `Trailpage${Date.now().toString(36)}`;
    const x = (await c.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody(family)))).body.id as string;
    const y = (await c.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody(family)))).body.id as string;
    for (let i = 0; i < 6; i++) {
      await c.get(`/fhir/Patient/${x}`).set(doctor.auth); // an event whose one patient is x
      await c.get(`/fhir/Patient?family=${family}`).set(doctor.auth); // an event about x and y
      await c.get(`/fhir/Patient/${y}`).set(doctor.auth); // not about x
    }
    const db = await admin();
    const expected = (await db.raw(
      `select id from audit_event where patient_id = ? union all select id from audit_event_patient where patient_id = ?
       order by id desc`, [x, x])).rows.map((r: { id: string }) => r.id);
    const order = (await db('audit_event').whereIn('id', expected).orderBy([{ column: 'last_updated', order: 'desc' }, { column: 'id', order: 'asc' }]).select('id')).map((r) => r.id);
    expect(order.length).to.be.greaterThan(12);
    // The officer's own searches are about x too: the trail is read up to a moment, so it stays still while it is paged.
    await new Promise((r) => setTimeout(r, 5));
    const until = new Date().toISOString();
    const whole = await c.get(`/fhir/AuditEvent?patient=${x}&_count=50`).set(officer.auth);
    expect(whole.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal(order);
    for (const q of [`patient=${x}&date=lt${until}`, `patient=Patient/${x}&date=ge2020-01-01&date=lt${until}`]) {
      for (const count of [1, 4, 50]) {
        const ids: string[] = [];
        let url: string | undefined = `/fhir/AuditEvent?${q}&_count=${count}`;
        while (url && ids.length <= order.length) {
          const res: { status: number; text: string; body: { entry?: Array<{ resource: { id: string } }>; link: Array<{ relation: string; url: string }> } } = await c.get(url).set(officer.auth);
          expect(res.status, res.text).to.equal(200);
          ids.push(...(res.body.entry ?? []).map((e) => e.resource.id));
          const next: string | undefined = res.body.link.find((l) => l.relation === 'next')?.url;
          url = next ? next.slice(next.indexOf('/fhir/')) : undefined;
        }
        expect(ids, `${q} _count=${count}`).to.deep.equal(order);
      }
    }
  });
});
