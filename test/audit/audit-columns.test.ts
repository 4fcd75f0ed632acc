import { expect } from 'chai';
import { buildAuditEvent } from '../../server/audit/balp';
import { auditRow } from '../../server/audit/writer';

const P1 = '6f1c1a52-6a8e-4e43-9d0a-3a4d7f1e2b01';

describe('AuditEvent search columns', () => {
  it('an audit row carries what a compliance query needs: patient, agent, action and date', () => {
    const event = buildAuditEvent({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1', userId: 'u1', resourceType: 'Patient', resourceId: P1, patientIds: [P1] }, new Date('2026-11-22T10:00:00.000Z'));
    const c = auditRow({ ...event, recorded: event.recorded as string }, 'c1', [P1]);
    expect(c.sp_patient).to.deep.equal([`Patient/${P1}`, P1]);
    expect(c.sp_agent).to.deep.equal(['u1']);
    expect(c.sp_action).to.include('R');
    expect(c.sp_date_lo).to.equal('2026-11-22T10:00:00.000Z');
    expect(c.sp_date_hi).to.equal('2026-11-22T10:00:00.001Z');
    expect(c.patient_id).to.equal(P1);
  });
});
