import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { failInterruptedExports } from '../../server/fhir/bulk/jobs';
import { auditOf } from '../helpers/audit';
import { actor, admin, api, testServer } from '../helpers/server';
import { kickOff, kickOffRaw, manifestOf } from './client';

/** A running job as a process that has since stopped would have left it. */
async function leftRunning(clinicId: string, ownerId: string, heartbeatSecondsAgo: number): Promise<string> {
  const id = randomUUID();
  await (await admin())('bulk_export').insert({
    id, clinic_id: clinicId, owner_id: ownerId, status: 'running', level: 'system', request: 'http://fhir.test/fhir/$export',
    types: ['Patient'], transaction_time: new Date(), principal: JSON.stringify({ scope: 'user/*.rs' }),
    heartbeat_at: new Date(Date.now() - heartbeatSecondsAgo * 1000),
  });
  return id;
}

const jobsOf = async (userId: string) => Number((await (await admin())('bulk_export').where({ owner_id: userId }).count<Array<{ n: string }>>({ n: '*' }))[0].n);

describe('Bulk Data $export refusals', () => {
  const cases: Array<[string, string, Record<string, string>, number, RegExp]> = [
    ['without Prefer: respond-async', '/fhir/$export', {}, 400, /Prefer: respond-async/],
    ['with a malformed _since', '/fhir/$export?_since=yesterday', { Prefer: 'respond-async' }, 400, /_since must be an instant/],
    ['with a _since that is a date, not an instant', '/fhir/$export?_since=2024-01-01', { Prefer: 'respond-async' }, 400, /_since/],
    ['with an unknown _type', '/fhir/$export?_type=Patient,Spaceship', { Prefer: 'respond-async' }, 400, /_type Spaceship/],
    ['with a _type this server does not export (AuditEvent)', '/fhir/$export?_type=AuditEvent', { Prefer: 'respond-async' }, 400, /_type AuditEvent/],
    ['with a _type outside the patient compartment at patient level', '/fhir/Patient/$export?_type=Practitioner', { Prefer: 'respond-async' }, 400, /_type Practitioner/],
    ['with an _outputFormat we do not produce', '/fhir/$export?_outputFormat=application/fhir%2Bjson', { Prefer: 'respond-async' }, 400, /_outputFormat/],
    ['with a parameter we do not support', '/fhir/$export?_typeFilter=Patient%3Factive%3Dtrue', { Prefer: 'respond-async' }, 400, /_typeFilter/],
  ];
  for (const [what, path, headers, status, message] of cases) {
    it(`a kick-off ${what} gets ${status}, is audited and leaves no job`, async () => {
      const a = await actor('clinic-admin');
      const res = await kickOffRaw(a.auth, path, headers);
      expect(res.status, res.text).to.equal(status);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      expect(res.body.issue[0].diagnostics).to.match(message);
      const last = (await auditOf(a.user)).at(-1);
      expect(last).to.include({ subtype: 'export', outcome: '4' });
      expect(await jobsOf(a.user)).to.equal(0);
    });
  }

  it('a HEAD on the kick-off URL starts nothing (405)', async () => {
    const a = await actor('clinic-admin');
    const res = await (await api()).head('/fhir/$export').set(a.auth).set('Prefer', 'respond-async');
    expect(res.status).to.equal(405);
    expect(await jobsOf(a.user)).to.equal(0);
  });

  it('polling an unknown job id, or one that is no UUID, gets 404 and is audited', async () => {
    const a = await actor('clinic-admin');
    for (const id of [randomUUID(), 'not-a-job']) {
      const res = await (await api()).get(`/fhir/$export-status/${id}`).set(a.auth);
      expect(res.status).to.equal(404);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    }
    expect((await auditOf(a.user)).map((e) => `${e.subtype} ${e.outcome}`)).to.deep.equal(['export-status 4', 'export-status 4']);
  });

  it('a second kick-off while one of the same user runs gets 429 with Retry-After, and no second job', async () => {
    const a = await actor('clinic-admin');
    await leftRunning(a.clinic, a.user, 0);
    const res = await kickOffRaw(a.auth, '/fhir/$export');
    expect(res.status).to.equal(429);
    expect(res.headers['retry-after']).to.equal('10');
    expect(res.body.issue[0].code).to.equal('throttled');
    expect(await jobsOf(a.user)).to.equal(1);
    expect((await auditOf(a.user)).at(-1)).to.include({ subtype: 'export', outcome: '4' });
  });

  it('a job whose runner stopped (a restart) is reported failed when polled, and the user may start again', async () => {
    const a = await actor('clinic-admin');
    const id = await leftRunning(a.clinic, a.user, 3600);
    const res = await (await api()).get(`/fhir/$export-status/${id}`).set(a.auth);
    expect(res.status).to.equal(500);
    expect(res.body.issue[0].diagnostics).to.match(/interrupted/);
    const m = await manifestOf(a.auth, await kickOff(a.auth, '/fhir/$export?_type=Patient'));
    expect(m.output).to.deep.equal([]); // a new clinic has no patients
  });

  it('at start, running jobs whose runner stopped beating are marked failed, across clinics; live ones are left alone', async () => {
    const a = await actor('clinic-admin');
    const b = await actor('clinic-admin');
    const stale = await leftRunning(a.clinic, a.user, 3600);
    const live = await leftRunning(b.clinic, b.user, 0);
    expect(await failInterruptedExports((await testServer()).db.runtime, 120)).to.be.at.least(1);
    const rows = await (await admin())('bulk_export').whereIn('id', [stale, live]).select('id', 'status', 'error');
    const byId = Object.fromEntries(rows.map((r: { id: string; status: string }) => [r.id, r.status]));
    expect(byId).to.deep.equal({ [stale]: 'failed', [live]: 'running' });
    await (await admin())('bulk_export').where({ id: live }).delete();
  });
});
