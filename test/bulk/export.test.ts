import { expect } from 'chai';
import { exportFilesIn } from '../../server/documents/export-files';
import { auditOf } from '../helpers/audit';
import { appointmentBody, created, medicationRequestBody, newPatient } from '../helpers/resources';
import { actor, admin, api, newUser, testServer, tokenFor } from '../helpers/server';
import { download, exported, kickOff, kickOffRaw, manifestOf, pathOf } from './client';

type Auth = Record<string, string>;

/** Every match of a search, by id, as the API answers it. */
async function searched(auth: Auth, type: string): Promise<Record<string, unknown>> {
  const res = await (await api()).get(`/fhir/${type}?_count=1000`).set(auth);
  expect(res.status, res.text.slice(0, 300)).to.equal(200);
  const entries = (res.body.entry ?? []) as Array<{ resource: { id: string } }>;
  return Object.fromEntries(entries.map((e) => [e.resource.id, e.resource]));
}

const byId = (rows: Array<Record<string, unknown>> = []) => Object.fromEntries(rows.map((r) => [String(r.id), r]));

describe('Bulk Data $export (kick-off, poll, manifest, download)', () => {
  let clinicA: Awaited<ReturnType<typeof actor>>;
  let systemA: Auth;
  let systemUserA: string;
  const patientsA: string[] = [];
  let fileRows: number;

  before(async () => {
    const s = await testServer();
    fileRows = s.cfg.bulkFileRows;
    s.cfg.bulkFileRows = 2; // several files per type, as a large clinic would get
    clinicA = await actor('clinic-admin');
    for (const family of ['Ames', 'Brook', 'Cole']) patientsA.push(await newPatient(clinicA.auth, family));
    await created(clinicA.auth, 'Appointment', appointmentBody(patientsA[0]));
    await created(clinicA.auth, 'Appointment', appointmentBody(patientsA[1]));
    await created(clinicA.auth, 'MedicationRequest', medicationRequestBody(patientsA[2]));
    systemUserA = await newUser(clinicA.clinic, 'doctor');
    systemA = { Authorization: `Bearer ${await tokenFor({ clinicId: clinicA.clinic, userId: systemUserA, scope: 'system/Patient.rs system/Appointment.rs system/MedicationRequest.rs' })}` };
  });

  after(async () => { (await testServer()).cfg.bulkFileRows = fileRows; });

  it('exports two types through the client flow, and every NDJSON line is what a search of the API answers', async () => {
    const status = await kickOff(systemA, '/fhir/$export?_type=Patient,Appointment&_outputFormat=application%2Ffhir%2Bndjson');
    const m = await manifestOf(systemA, status);
    expect(m.requiresAccessToken).to.equal(true);
    expect(m.request).to.equal('http://fhir.test/fhir/$export?_type=Patient%2CAppointment&_outputFormat=application%2Ffhir%2Bndjson');
    expect(new Date(m.transactionTime).getTime()).to.be.closeTo(Date.now(), 60_000);
    expect(m.error).to.deep.equal([]);
    expect([...new Set(m.output.map((o) => o.type))]).to.deep.equal(['Patient', 'Appointment']);
    expect(m.output.filter((o) => o.type === 'Patient').map((o) => o.count)).to.deep.equal([2, 1]);
    for (const o of m.output) expect(o.url).to.match(/^http:\/\/fhir\.test\/fhir\/\$export-file\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/);

    const files = await exported(systemA, m);
    expect(byId(files.Patient)).to.deep.equal(await searched(systemA, 'Patient'));
    expect(byId(files.Appointment)).to.deep.equal(await searched(systemA, 'Appointment'));
    expect(Object.keys(byId(files.Patient)).sort()).to.deep.equal([...patientsA].sort());

    const trail = await auditOf(systemUserA);
    const exportEvents = trail.filter((e) => e.subtype.startsWith('export'));
    expect(exportEvents.map((e) => `${e.subtype} ${e.outcome}`)).to.deep.equal([
      'export 0', 'export-complete 0', ...m.output.map(() => 'export-download 0'),
    ]);
    expect(exportEvents[1].outcomeDesc).to.equal('exported Patient: 3, Appointment: 2 in 3 files');
  });

  it('a file cannot be downloaded without the token, nor by another user of the same clinic', async () => {
    const m = await manifestOf(systemA, await kickOff(systemA, '/fhir/$export?_type=Patient'));
    const url = pathOf(m.output[0].url);
    expect((await (await api()).get(url)).status).to.equal(401);
    const colleague = await actor('clinic-admin', 'user/*.cruds', clinicA.clinic);
    const res = await (await api()).get(url).set(colleague.auth);
    expect(res.status).to.equal(404);
    expect(res.body.resourceType).to.equal('OperationOutcome');
  });

  it("clinic B's export holds none of clinic A's rows, and B gets 404 polling, downloading or cancelling A's job", async () => {
    const statusA = await kickOff(systemA, '/fhir/$export?_type=Patient');
    const mA = await manifestOf(systemA, statusA);
    const b = await actor('clinic-admin');
    const mine = await newPatient(b.auth, 'Bee');
    const mB = await manifestOf(b.auth, await kickOff(b.auth, '/fhir/$export'));
    const filesB = await exported(b.auth, mB);
    expect(Object.keys(byId(filesB.Patient))).to.deep.equal([mine]);
    for (const rows of Object.values(filesB)) for (const r of rows) expect(patientsA).not.to.include(r.id);

    const a = await api();
    const poll = await a.get(pathOf(statusA)).set(b.auth);
    expect(poll.status).to.equal(404);
    expect(poll.body.resourceType).to.equal('OperationOutcome');
    expect((await a.get(pathOf(mA.output[0].url)).set(b.auth)).status).to.equal(404);
    expect((await a.delete(pathOf(statusA)).set(b.auth)).status).to.equal(404);
    // A's job is untouched by B's attempts.
    expect((await download(systemA, mA.output[0].url)).length).to.equal(mA.output[0].count);
    const refused = (await auditOf(b.user)).filter((e) => e.outcome === '4').map((e) => e.subtype);
    expect(refused).to.deep.equal(['export-status', 'export-download', 'export-cancel']);
  });

  it('a patient/ token exports only its own compartment, and the completion names that patient', async () => {
    const user = await newUser(clinicA.clinic, 'doctor');
    const auth = { Authorization: `Bearer ${await tokenFor({ clinicId: clinicA.clinic, userId: user, scope: 'patient/*.rs', patientId: patientsA[0] })}` };
    const m = await manifestOf(auth, await kickOff(auth, '/fhir/Patient/$export'));
    const files = await exported(auth, m);
    expect(Object.keys(byId(files.Patient))).to.deep.equal([patientsA[0]]);
    expect(files.Appointment?.length).to.equal(1);
    expect(JSON.stringify(files.Appointment)).to.include(`Patient/${patientsA[0]}`);
    expect(files.MedicationRequest).to.equal(undefined); // patientsA[2]'s
    const done = (await auditOf(user)).find((e) => e.subtype === 'export-complete');
    expect(done?.entity).to.include(`Patient/${patientsA[0]}`);
  });

  it('DELETE on the status URL removes the files from the store and the job', async () => {
    const status = await kickOff(systemA, '/fhir/$export?_type=Patient,Appointment');
    const m = await manifestOf(systemA, status);
    const jobId = pathOf(status).split('/').pop() as string;
    const s = await testServer();
    const keys = m.output.map((o) => `exports/${clinicA.clinic}/${jobId}/${o.url.split('/').pop()}`);
    for (const k of keys) await s.documents.store.getExportFile(k); // present before
    expect((await exportFilesIn(s.documents.store).list(clinicA.clinic, jobId)).length).to.equal(m.output.length);
    const del = await (await api()).delete(pathOf(status)).set(systemA);
    expect(del.status).to.equal(202);
    expect(await exportFilesIn(s.documents.store).list(clinicA.clinic, jobId)).to.deep.equal([]);
    for (const k of keys) {
      const err = await s.documents.store.getExportFile(k).then(() => undefined, (e: unknown) => e);
      expect((err as { status?: number } | undefined)?.status, k).to.equal(404);
    }
    expect((await (await api()).get(pathOf(status)).set(systemA)).status).to.equal(404);
    expect((await (await api()).get(pathOf(m.output[0].url)).set(systemA)).status).to.equal(404);
    const trail = await auditOf(systemUserA);
    expect(trail.filter((e) => e.subtype === 'export-cancel').map((e) => e.outcome)).to.deep.equal(['0']);
    expect(trail.at(-1)).to.include({ subtype: 'export-download', outcome: '4' });
  });

  it('DELETE while the export runs stops it: no completion, and nothing of it is left in the store or the job table', async () => {
    const c = await actor('clinic-admin');
    for (let i = 0; i < 30; i++) await newPatient(c.auth, `Running${i}`);
    (await testServer()).cfg.bulkFileRows = 1; // thirty files: the DELETE lands while they are written
    const status = await kickOff(c.auth, '/fhir/$export?_type=Patient');
    const jobId = pathOf(status).split('/').pop() as string;
    expect((await (await api()).delete(pathOf(status)).set(c.auth)).status).to.equal(202);
    expect((await (await api()).get(pathOf(status)).set(c.auth)).status).to.equal(404);
    // The runner stops at its next step, removes what it wrote, then the row: wait for the row to go.
    const row = async () => (await admin())('bulk_export').where({ id: jobId }).first();
    for (let i = 0; i < 600 && await row(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await row()).to.equal(undefined);
    expect(await exportFilesIn((await testServer()).documents.store).list(c.clinic, jobId)).to.deep.equal([]);
    const trail = await auditOf(c.user);
    expect(trail.find((e) => e.subtype === 'export-cancel')?.outcomeDesc).to.match(/^export cancelled/);
    expect(trail.some((e) => e.subtype === 'export-complete')).to.equal(false);
    (await testServer()).cfg.bulkFileRows = 2;
  });

  it('types the role does not grant are left out when _type is absent, and refused with 403 when named', async () => {
    const desk = await actor('front-desk', 'user/*.rs', clinicA.clinic);
    const m = await manifestOf(desk.auth, await kickOff(desk.auth, '/fhir/$export'));
    const types = new Set(m.output.map((o) => o.type));
    expect(types.has('Patient')).to.equal(true);
    expect(types.has('MedicationRequest')).to.equal(false);
    const named = await kickOffRaw(desk.auth, '/fhir/$export?_type=Patient,MedicationRequest');
    expect(named.status).to.equal(403);
    expect(named.body.resourceType).to.equal('OperationOutcome');
    expect((await auditOf(desk.user)).at(-1)).to.include({ subtype: 'export', outcome: '4' });
  });
});
