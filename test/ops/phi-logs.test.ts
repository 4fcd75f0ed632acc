import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { freePort } from '../../db/embedded';
import { FHIR } from '../helpers/server';
import { startChildServer, type ChildServer } from './child-server';

// Values no log line may hold; unusual enough that a hit can only come from this flow.
const FAMILY = 'Quillonbrake';
const GIVEN = 'Zephyrine';
const BIRTH_DATE = '1931-07-23';
const MRN = 'MRN-ZQ-774411';
const PHONE = '+1-555-0199-4471';
const DOC_MARKER = 'SECRET-DOCUMENT-TEXT-8842';

describe('ops: logs hold no PHI', function () {
  this.timeout(120_000);
  let server: ChildServer | undefined;
  after(async () => { await server?.close(); });

  it('a debug-level run of create, search, refusals, upload and read logs none of the names, birth date, identifier or document bytes', async () => {
    const metricsPort = await freePort();
    server = await startChildServer({ LOG_LEVEL: 'debug', METRICS_PORT: String(metricsPort) });
    const s = server;
    const call = (path: string, init: RequestInit = {}) => fetch(`${s.url}${path}`, { ...init, headers: { ...s.auth, ...(init.headers as Record<string, string> ?? {}) } });
    const patient = {
      resourceType: 'Patient', name: [{ family: FAMILY, given: [GIVEN] }], birthDate: BIRTH_DATE, gender: 'female',
      identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: MRN }], telecom: [{ system: 'phone', value: PHONE }],
    };
    const created = await call('/fhir/Patient', { method: 'POST', headers: { 'Content-Type': FHIR }, body: JSON.stringify(patient) });
    expect(created.status).to.equal(201);
    const id = ((await created.json()) as { id: string }).id;

    for (const q of [`family=${FAMILY}`, `given=${GIVEN}`, `birthdate=${BIRTH_DATE}`, `identifier=${MRN}`, `name=${FAMILY}&birthdate=${BIRTH_DATE}`]) {
      const res = await call(`/fhir/Patient?${q}`);
      expect(res.status, q).to.equal(200);
      expect(((await res.json()) as { total?: number; entry?: unknown[] }).entry ?? []).to.have.length(1);
    }
    // Refusals that carry the values: a bad search value, a bad body, a conflicting update, an unknown parameter.
    await call(`/fhir/Patient?birthdate=${FAMILY}`);
    await call(`/fhir/Patient?${FAMILY}=${MRN}`);
    await call('/fhir/Patient', { method: 'POST', headers: { 'Content-Type': FHIR }, body: JSON.stringify({ ...patient, birthDate: `${BIRTH_DATE}-${FAMILY}` }) });
    await call(`/fhir/Patient/${id}`, { method: 'PUT', headers: { 'Content-Type': FHIR, 'If-Match': 'W/"99"' }, body: JSON.stringify({ ...patient, id }) });
    await call('/fhir/Patient', { method: 'POST', headers: { 'Content-Type': FHIR }, body: `{"resourceType":"Patient","name":[{"family":"${FAMILY}"` });

    const bytes = Buffer.concat([Buffer.from(`%PDF-1.7\n${DOC_MARKER}\n`), randomBytes(4096)]);
    const up = await call('/fhir/Binary', { method: 'POST', headers: { 'Content-Type': 'application/pdf', 'X-Security-Context': `Patient/${id}` }, body: bytes });
    expect(up.status).to.equal(201);
    const binaryId = ((await up.json()) as { id: string }).id;
    const read = await call(`/fhir/Binary/${binaryId}`, { headers: { Accept: 'application/pdf' } });
    expect(read.status).to.be.oneOf([200, 302, 303, 307]);
    await read.arrayBuffer();
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).to.equal(200);
    expect(await metrics.text()).to.match(/fhir_http_requests_total\{method="POST",interaction="create",type="Patient",status="201"\} 1/);

    await new Promise((r) => setTimeout(r, 1500)); // log lines are buffered and flushed at least every second
    const log = s.output();
    expect(log.split('\n').filter((l) => l.startsWith('{')).length, 'the run was logged').to.be.greaterThan(15);
    const forbidden = [FAMILY, GIVEN, BIRTH_DATE, MRN, PHONE, DOC_MARKER, bytes.subarray(0, 64).toString('base64').slice(0, 40)].map((v) => v.toLowerCase());
    // The birth year on its own too, once ids, durations and timestamps (where 1931 may occur by chance) are left out.
    const chance = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+\.\d+|"time":\d+/gi;
    const leaking = (l: string) => forbidden.some((v) => l.toLowerCase().includes(v)) || l.replace(chance, '').includes('1931');
    const leaks = log.split('\n').filter(leaking);
    expect(leaks.join('\n').slice(0, 2000)).to.equal('');
  });
});
