import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import pg from 'pg';
import { localSocketUrl, runtimeUrl } from '../../db';
import { ensureNaiveAuditTable, NAIVE_AUDIT_TABLE, naiveFloorHandler } from '../../scripts/bench/naive-floor';
import { startNaiveFloor } from '../../scripts/bench/naive-floor-process';
import { persistentSecret } from '../../db/secrets';
import { appointmentBody, post } from '../helpers/resources';
import { actor, admin, api, newUser, patientBody, testServer, tokenFor } from '../helpers/server';

type Bundle = { resourceType: string; entry: Array<{ resource: { resourceType: string; id: string } & Record<string, unknown> }> };

describe('Benchmark naive floor: node:http + pg, five round trips, one audit row per request', () => {
  let dbUrl: string;
  let pool: pg.Pool;
  let server: http.Server;
  let base: string;
  let doctor: Awaited<ReturnType<typeof actor>>;
  let officerToken: string;
  let patientId: string;
  let appointmentId: string;
  const family = `Naiveson${Math.random().toString(36).slice(2, 8)}`;

  before(async () => {
    const s = await testServer();
    await ensureNaiveAuditTable(s.db.adminUrl);
    dbUrl = runtimeUrl(await localSocketUrl(s.db.adminUrl), s.cfg.dbRuntimeUser, s.cfg.dbRuntimePassword ?? persistentSecret(s.cfg.dataDir, 'db-runtime-password'));
    pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
    server = http.createServer(naiveFloorHandler(pool, s.cfg.clinicClaim));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    doctor = await actor('doctor');
    officerToken = await tokenFor({ clinicId: doctor.clinic, userId: await newUser(doctor.clinic, 'compliance-officer'), scope: 'user/AuditEvent.rs' });
    patientId = (await post(doctor.auth, 'Patient', patientBody(family))).body.id;
    appointmentId = (await post(doctor.auth, 'Appointment', appointmentBody(patientId))).body.id;
    // The server audits that read: the AuditEvent search below has an event naming the patient.
    expect((await (await api()).get(`/fhir/Patient/${patientId}`).set(doctor.auth)).status).to.equal(200);
  });

  after(async () => {
    server?.close();
    await pool?.end();
  });

  const auditRows = async (clinicId: string) =>
    (await (await admin()).raw(`select action, user_id, detail::text as detail from ${NAIVE_AUDIT_TABLE} where clinic_id = ? order by recorded`, [clinicId])).rows as
      Array<{ action: string; user_id: string; detail: string }>;

  /** Sends one request and checks it wrote exactly one audit row, for the token's clinic and user. */
  async function oneRequest(path: string, token: string, init: { method?: string; body?: string } = {}, action = 'R') {
    const before = (await auditRows(doctor.clinic)).length;
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? 'GET', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, ...(init.body ? { body: init.body } : {}),
    });
    const rows = await auditRows(doctor.clinic);
    expect(rows.length, 'audit rows written').to.equal(before + 1);
    const row = rows[rows.length - 1];
    expect(row.action).to.equal(action);
    expect(Buffer.byteLength(row.detail), row.detail).to.be.within(150, 300);
    return { res, text: await res.text() };
  }

  it('read Patient by id answers the stored resource', async () => {
    const { res, text } = await oneRequest(`/fhir/Patient/${patientId}`, doctor.token);
    expect(res.status).to.equal(200);
    const p = JSON.parse(text) as { id: string; name: Array<{ family: string }> };
    expect(p.id).to.equal(patientId);
    expect(p.name[0].family).to.equal(family);
  });

  it('search Patient by family answers a Bundle holding the patient', async () => {
    const { res, text } = await oneRequest(`/fhir/Patient?family=${family.slice(0, 10).toLowerCase()}&_count=20`, doctor.token, {}, 'E');
    expect(res.status).to.equal(200);
    const b = JSON.parse(text) as Bundle;
    expect(b.resourceType).to.equal('Bundle');
    expect(b.entry.map((e) => e.resource.id)).to.deep.equal([patientId]);
  });

  it('search Appointment by patient and date answers the patient\'s appointment in range, and none outside it', async () => {
    const inRange = await oneRequest(`/fhir/Appointment?patient=${patientId}&date=ge2026-01-01&date=lt2027-01-01`, doctor.token, {}, 'E');
    expect(inRange.res.status).to.equal(200);
    expect((JSON.parse(inRange.text) as Bundle).entry.map((e) => e.resource.id)).to.deep.equal([appointmentId]);
    const outside = await oneRequest(`/fhir/Appointment?patient=${patientId}&date=ge2027-01-01&date=lt2028-01-01`, doctor.token, {}, 'E');
    expect((JSON.parse(outside.text) as Bundle).entry).to.deep.equal([]);
  });

  it('search AuditEvent by patient and date answers events that name the patient', async () => {
    const { res, text } = await oneRequest(`/fhir/AuditEvent?patient=Patient/${patientId}&date=ge2020-01-01`, officerToken, {}, 'E');
    expect(res.status).to.equal(200);
    const b = JSON.parse(text) as Bundle;
    expect(b.entry.length).to.be.greaterThan(0);
    // The naive floor answers the audit rows as they are stored (no BALP rendering): each names the patient.
    for (const e of b.entry) {
      const row = e.resource as unknown as { patient_id: string | null; patient_ids: string[] | null };
      expect([row.patient_id, ...(row.patient_ids ?? [])]).to.include(patientId);
    }
  });

  it('create Patient stores a patient the real server reads and finds by family', async () => {
    const created = `Naivenew${Math.random().toString(36).slice(2, 8)}`;
    const { res, text } = await oneRequest('/fhir/Patient', doctor.token, { method: 'POST', body: JSON.stringify(patientBody(created)) }, 'C');
    expect(res.status).to.equal(201);
    const id = (JSON.parse(text) as { id: string }).id;
    const read = await (await api()).get(`/fhir/Patient/${id}`).set(doctor.auth);
    expect(read.status).to.equal(200);
    expect(read.body.name[0].family).to.equal(created);
    const found = await (await api()).get(`/fhir/Patient?family=${created}`).set(doctor.auth);
    expect(found.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal([id]);
  });

  it('RLS still decides: another clinic\'s doctor gets 404 for the patient, and the audit row goes to that clinic', async () => {
    const other = await actor('doctor');
    const res = await fetch(`${base}/fhir/Patient/${patientId}`, { headers: { authorization: `Bearer ${other.token}` } });
    expect(res.status).to.equal(404);
    const rows = await auditRows(other.clinic);
    expect(rows.map((r) => [r.action, r.user_id])).to.deep.equal([['R', other.user]]);
  });

  it('runs as its own process and answers the same requests', async () => {
    const naive = await startNaiveFloor({ dbUrl, poolMax: 2 });
    try {
      const res = await fetch(`${naive.url}/fhir/Patient/${patientId}`, { headers: { authorization: `Bearer ${doctor.token}` } });
      expect(res.status).to.equal(200);
      expect(((await res.json()) as { id: string }).id).to.equal(patientId);
    } finally {
      await naive.stop();
    }
  });
});
