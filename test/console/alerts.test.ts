import crypto from 'node:crypto';
import { expect } from 'chai';
import { auditRecord } from '../../server/audit/record';
import { auditRecordInsertSql } from '../../server/audit/writer';
import { computeAlerts } from '../../server/console/alerts';
import { withClinic } from '../../server/tenancy/with-clinic';
import { admin, newClinic, newUser, testServer } from '../helpers/server';

/** `count` reads of distinct patients by one user, one every `stepMs` from `start`. */
async function burst(clinicId: string, userId: string, start: string, count: number, stepMs: number): Promise<void> {
  const sql = Array.from({ length: count }, (_, i) => auditRecordInsertSql({
    ...auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId, userId, roleName: 'doctor', resourceType: 'Patient', patientIds: [crypto.randomUUID()] }),
    last_updated: new Date(Date.parse(start) + i * stepMs).toISOString(),
  }));
  await (await admin()).raw(sql.join('; '));
}

describe('Console alerts: many patients opened in an hour', function () {
  this.timeout(60_000);

  const alertsOf = async (clinicId: string, userId: string, from: string, to: string) =>
    withClinic((await testServer()).db.runtime, { clinicId, userId }, ({ trx }) => computeAlerts(trx, clinicId, from, to, []));

  it('a burst just after midnight is one alert, on its own day, not a second one the day before', async () => {
    const clinic = await newClinic('Midnight burst');
    const doctor = await newUser(clinic, 'doctor');
    const officer = await newUser(clinic, 'compliance-officer');
    await burst(clinic, doctor, '2026-01-05T00:10:00.000Z', 50, 10_000);
    const many = (await alertsOf(clinic, officer, '2026-01-04T00:00:00.000Z', '2026-01-06T00:00:00.000Z')).filter((a) => a.kind === 'many-patients');
    expect(many.map((a) => [a.userId, a.at, a.count])).to.deep.equal([[doctor, '2026-01-05T00:10:00.000Z', 50]]);
  });

  it('a burst across midnight is one alert, and 49 patients are none', async () => {
    const clinic = await newClinic('Across midnight');
    const doctor = await newUser(clinic, 'doctor');
    const calm = await newUser(clinic, 'doctor');
    const officer = await newUser(clinic, 'compliance-officer');
    await burst(clinic, doctor, '2026-01-05T23:50:00.000Z', 50, 20_000);
    await burst(clinic, calm, '2026-01-05T10:00:00.000Z', 49, 10_000);
    const many = (await alertsOf(clinic, officer, '2026-01-05T00:00:00.000Z', '2026-01-07T00:00:00.000Z')).filter((a) => a.kind === 'many-patients');
    expect(many.map((a) => [a.userId, a.count])).to.deep.equal([[doctor, 50]]);
  });
});
