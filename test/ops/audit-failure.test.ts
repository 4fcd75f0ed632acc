import { expect } from 'chai';
import { registry } from '../../server/ops/metrics';
import { actor, admin, api, FHIR, patientBody } from '../helpers/server';

/** fhir_audit_write_failures_total of a stage, as /metrics would show it. */
async function auditFailures(stage: string): Promise<number> {
  const metric = await registry.getSingleMetric('fhir_audit_write_failures_total')?.get();
  return metric?.values.find((v) => v.labels.stage === stage)?.value ?? 0;
}

/** Makes every audit_event insert for `clinicId` fail until the returned function is called. */
async function failAuditsOf(clinicId: string): Promise<() => Promise<void>> {
  const db = await admin();
  const name = `audit_fails_${clinicId.replace(/-/g, '')}`;
  await db.raw(`create function ${name}() returns trigger language plpgsql as $$ begin raise exception 'audit trail refused'; end $$`);
  await db.raw(`create trigger ${name} before insert on audit_event for each row when (new.clinic_id = '${clinicId}'::uuid) execute function ${name}()`);
  return async () => {
    await db.raw(`drop trigger ${name} on audit_event`);
    await db.raw(`drop function ${name}()`);
  };
}

describe('ops: an audit insert that fails makes the request fail', () => {
  it('a create whose AuditEvent cannot be written answers 500 with an OperationOutcome, and the Patient is not stored', async () => {
    const doctor = await actor('doctor');
    const before = await auditFailures('commit');
    const restore = await failAuditsOf(doctor.clinic);
    let res;
    try {
      res = await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Unaudited')));
    } finally {
      await restore();
    }
    expect(res.status).to.equal(500);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    expect(res.headers.location).to.equal(undefined);
    expect(await auditFailures('commit'), 'the failure is counted in /metrics').to.equal(before + 1);
    expect(await (await admin())('patient').where({ clinic_id: doctor.clinic })).to.have.length(0);
    // With the audit trail back, the same request is stored.
    const again = await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Unaudited')));
    expect(again.status).to.equal(201);
  });

  it('a read whose AuditEvent cannot be written answers 500 and returns none of the resource', async () => {
    const doctor = await actor('doctor');
    const created = await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Readunaudited')));
    expect(created.status).to.equal(201);
    const restore = await failAuditsOf(doctor.clinic);
    let res;
    try {
      res = await (await api()).get(`/fhir/Patient/${created.body.id}`).set(doctor.auth);
    } finally {
      await restore();
    }
    expect(res.status).to.equal(500);
    expect(res.body.resourceType).to.equal('OperationOutcome');
    expect(res.text).to.not.include('Readunaudited');
    expect(res.text).to.not.include(created.body.id);
  });
});
