import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { AuditEvent } from 'fhir/r4';
import { type AuditFacts, buildAuditEvent } from '../../server/audit/balp';
import { auditSearchColumns } from '../../server/audit/writer';
import { AuditEventDefinition } from '../../server/fhir/resources/audit-event';
import { extractSearchColumns } from '../../server/fhir/search/extract';

const EXAMPLES = path.dirname(require.resolve('hl7.fhir.r4.examples/package.json'));
const P1 = '6f1c1a52-6a8e-4e43-9d0a-3a4d7f1e2b01';
const P2 = '0b5e2c11-90d4-4c5b-8b1e-7d3f6a2c4e02';

/** Fact combinations that change which elements an AuditEvent has. */
function variants(): AuditFacts[] {
  const base: AuditFacts = { interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1' };
  const out: AuditFacts[] = [];
  for (const who of [{}, { userId: 'u1' }, { userId: 'u1', fhirUser: 'Practitioner/pr1', roleName: 'doctor' }, { clientId: 'app' }, { userId: 'u1', clientId: 'app', purposeOfUse: 'ETREAT' }]) {
    for (const what of [{}, { resourceType: 'Patient' }, { resourceType: 'Patient', resourceId: P1, versionId: '3' }, { resourceType: 'Appointment', resourceId: P2, patientIds: [P1, P2, P1] }]) {
      for (const extra of [{}, { query: 'family=Smith&_count=20', action: 'E' as const, interaction: 'search-type' }, { related: ['DocumentReference/d1', 'https://elsewhere/Patient/x'], outcome: '4' as const, outcomeDesc: 'refused' }, { sourceIp: '10.0.0.1', clinicId: null }]) {
        out.push({ ...base, ...who, ...what, ...extra });
      }
    }
  }
  return out;
}

describe('AuditEvent search columns', () => {
  it('the direct extraction equals the generic one for every shape the server writes', () => {
    const all = variants();
    expect(all.length).to.be.greaterThan(50);
    for (const f of all) {
      const event = buildAuditEvent(f);
      expect(auditSearchColumns(event), JSON.stringify(f)).to.deep.equal(extractSearchColumns(AuditEventDefinition, event));
    }
  });

  it('and for AuditEvents of other shapes (the official HL7 examples)', () => {
    const files = fs.readdirSync(EXAMPLES).filter((f) => /^AuditEvent-.*\.json$/.test(f));
    expect(files.length).to.be.greaterThan(5);
    for (const f of files) {
      const event = JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8')) as AuditEvent;
      expect(auditSearchColumns(event), f).to.deep.equal(extractSearchColumns(AuditEventDefinition, event));
    }
  });

  it('finds what a compliance query needs: patient, agent, action and date', () => {
    const c = auditSearchColumns(buildAuditEvent({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1', userId: 'u1', resourceType: 'Patient', resourceId: P1, patientIds: [P1] }, new Date('2026-11-22T10:00:00.000Z')));
    expect(c.sp_patient).to.deep.equal([`Patient/${P1}`, P1]);
    expect(c.sp_agent).to.deep.equal(['u1']);
    expect(c.sp_action).to.include('R');
    expect(c.sp_date_lo).to.equal('2026-11-22T10:00:00.000Z');
    expect(c.sp_date_hi).to.equal('2026-11-22T10:00:00.001Z');
  });
});
