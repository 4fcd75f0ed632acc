import { expect } from 'chai';
import { decodeJwt } from 'jose';
import pg from 'pg';
import {
  appointmentSearchFloor, auditSearchFloor, createPatientFloor, type FloorActor, type FloorPlan, readPatientFloor, searchFamilyFloor, type SqlClient,
} from '../../scripts/bench/floor';
import { appointmentBody, post } from '../helpers/resources';
import { actor, admin, api, newUser, patientBody, tokenFor } from '../helpers/server';

type Sent = { text: string; prepared: boolean };

/** The shape of a statement: literal values (ids, instants, JSON) stand for what varies per request. */
const shape = (s: Sent) => ({ prepared: s.prepared, text: s.prepared ? s.text : s.text.replace(/ ?E?'(?:[^']|'')*'/g, ' ?') });

/** Every statement the server's runtime pool sends while `f` runs. */
async function serverSends(f: () => Promise<unknown>): Promise<Sent[]> {
  const sent: Sent[] = [];
  const original = pg.Client.prototype.query;
  const record = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0] as string | { text: string; values?: unknown[] };
    if (this.user === 'fhir_runtime') sent.push(typeof q === 'string' ? { text: q, prepared: false } : { text: q.text, prepared: !!q.values?.length });
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  pg.Client.prototype.query = record as typeof original;
  try { await f(); } finally { pg.Client.prototype.query = original; }
  return sent;
}

/** Every statement the floor sends for one request. */
async function floorSends(plan: FloorPlan, rows: Array<{ patient_id: string }> = []): Promise<Sent[]> {
  const sent: Sent[] = [];
  const client: SqlClient = {
    query: async (q) => {
      sent.push(typeof q === 'string' ? { text: q, prepared: false } : { text: q.text, prepared: q.values.length > 0 });
      // Each statement of a message answers the same rows (a one-trip message reads its page's result).
      return Object.assign(Array.from({ length: 8 }, () => ({ rows })), { rows });
    },
  };
  await plan(client);
  return sent;
}

// A PREPARE goes once per connection (with the DEALLOCATE of the statement it replaces when the connection holds its most).
const withoutPrepare = (sent: Sent[]) => sent.filter((s) => !/^(deallocate \S+; )?prepare /.test(s.text));

const actorOf = (token: string, role: string, stamp?: string): FloorActor => {
  const c = decodeJwt(token);
  return { clinicId: String(c.clinic), userId: String(c.sub), role, tokenId: String(c.jti), stamp };
};

/** The stamp of a clinic's role, as app_begin answers it (migration 029). */
async function stampOf(clinicId: string, role: string): Promise<string> {
  const [r] = await (await admin())('role').where({ clinic_id: clinicId, name: role }).select((await admin()).raw("md5(name || ':' || permissions::text) as stamp"));
  return r.stamp as string;
}

describe('Benchmark floor: the same SQL the server sends', () => {
  let doctor: Awaited<ReturnType<typeof actor>>;
  let officerToken: string;
  let patientId: string;
  let doctorStamp: string;
  let officerStamp: string;

  before(async () => {
    doctor = await actor('doctor');
    officerToken = await tokenFor({ clinicId: doctor.clinic, userId: await newUser(doctor.clinic, 'compliance-officer'), scope: 'user/AuditEvent.rs' });
    const p = await post(doctor.auth, 'Patient', patientBody('Floorson'));
    patientId = p.body.id;
    doctorStamp = await stampOf(doctor.clinic, 'doctor');
    officerStamp = await stampOf(doctor.clinic, 'compliance-officer');
    // The officer's first request takes the full path and leaves its role cached, as in a benchmark's warm-up.
    await (await api()).get('/fhir/AuditEvent?_count=1').set({ Authorization: `Bearer ${officerToken}` });
    expect((await post(doctor.auth, 'Appointment', appointmentBody(patientId))).status).to.equal(201);
  });

  // Round trips per request: one, once the caller's role is cached (its first request, on the full path, fills the cache).
  const cases: Array<{ name: string; trips: number; http: () => Promise<unknown>; plan: () => FloorPlan }> = [
    {
      name: 'read Patient by id',
      trips: 1,
      http: async () => (await api()).get(`/fhir/Patient/${patientId}`).set(doctor.auth),
      plan: () => readPatientFloor(() => actorOf(doctor.token, 'doctor', doctorStamp), () => patientId),
    },
    {
      name: 'search Patient by family',
      trips: 1,
      http: async () => (await api()).get('/fhir/Patient?family=Floorson&_count=20').set(doctor.auth),
      plan: () => searchFamilyFloor(() => actorOf(doctor.token, 'doctor', doctorStamp), () => 'Floorson'),
    },
    {
      name: 'search Appointment by patient and date',
      trips: 1,
      http: async () => (await api()).get(`/fhir/Appointment?patient=${patientId}&date=ge2026-01-01&date=lt2027-01-01`).set(doctor.auth),
      plan: () => appointmentSearchFloor(() => actorOf(doctor.token, 'doctor', doctorStamp), () => patientId, { from: '2026-01-01', to: '2027-01-01' }),
    },
    {
      name: 'search AuditEvent by patient and date',
      trips: 1,
      http: async () => (await api()).get(`/fhir/AuditEvent?patient=Patient/${patientId}&date=ge2020-01-01`).set({ Authorization: `Bearer ${officerToken}` }),
      plan: () => auditSearchFloor(() => actorOf(officerToken, 'compliance-officer', officerStamp), () => patientId, '2020-01-01'),
    },
    {
      name: 'create Patient',
      trips: 1,
      http: async () => (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', 'application/fhir+json').send(JSON.stringify(patientBody('Floorson'))),
      plan: () => createPatientFloor(() => actorOf(doctor.token, 'doctor', doctorStamp), () => patientBody('Floorson')),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: same statements, same order, same round trips`, async () => {
      // A statement's PREPARE goes once per connection: what is compared is what each request sends
      // (an EXECUTE names its statement by a hash of its text, so the same name is the same statement).
      const server = withoutPrepare(await serverSends(c.http));
      const floor = withoutPrepare(await floorSends(c.plan(), [{ patient_id: patientId }]));
      expect(server.length, JSON.stringify(server.map((s) => s.text.slice(0, 80)))).to.equal(c.trips);
      expect(floor.map(shape)).to.deep.equal(server.map(shape));
    });
  }
});
