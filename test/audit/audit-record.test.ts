import crypto from 'node:crypto';
import { expect } from 'chai';
import { canonicalAuditRow, jcs } from '../../server/audit/canonical';
import { auditRecord, uuidV7 } from '../../server/audit/record';
import { renderAuditEvent, renderAuditEventJson } from '../../server/audit/render';
import { parseUuidArray } from '../../db/knex-client';
import { auditRecordInsertSql } from '../../server/audit/writer';

const P1 = '6f1c1a52-6a8e-4e43-9d0a-3a4d7f1e2b01';
const P2 = '6f1c1a52-6a8e-4e43-9d0a-3a4d7f1e2b02';
const at = new Date('2026-11-22T10:00:00.000Z');

describe('Audit rows: typed columns, BALP rendered from them, one canonical form', () => {
  it('a read becomes a small row of typed columns (no JSON document), the request id among them', () => {
    const r = auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1', userId: 'u1', roleName: 'doctor', resourceType: 'Patient', resourceId: P1, versionId: '3', patientIds: [P1], requestId: 'req-1', sourceIp: '10.0.0.1' }, at);
    expect(r).to.include({ clinic_id: 'c1', last_updated: at.toISOString(), type: 'rest', subtype: 'read', action: 'R', outcome: '0', user_id: 'u1', role: 'doctor', patient_id: P1, patient_ids: null, entity_type: 'Patient', entity_id: P1, entity_version: '3', request_id: 'req-1' });
    expect(Buffer.byteLength(auditRecordInsertSql(r))).to.be.below(700);
  });

  it('ids are time-ordered (UUID version 7), so new rows append to the primary key', () => {
    const a = uuidV7(1_000_000);
    const b = uuidV7(2_000_000);
    expect(a < b).to.equal(true);
    expect(a[14]).to.equal('7');
    expect(['8', '9', 'a', 'b']).to.include(a[19]);
  });

  it('renders the BALP AuditEvent: type rest, interaction subtype, agent, patient entity and the X-Request-Id transaction entity', () => {
    const e = renderAuditEvent(auditRecord({ interaction: 'vread', action: 'R', outcome: '0', clinicId: 'c1', userId: 'u1', fhirUser: 'Practitioner/x', resourceType: 'Patient', resourceId: P1, versionId: '2', patientIds: [P1], requestId: 'req-9' }, at));
    expect(e.type).to.deep.include({ code: 'rest' });
    expect(e.subtype?.[0]).to.deep.equal({ system: 'http://hl7.org/fhir/restful-interaction', code: 'vread' });
    expect(e.recorded).to.equal(at.toISOString());
    expect(e.agent[0]).to.deep.include({ altId: 'u1', requestor: true });
    expect(e.agent[0].who?.reference).to.equal('Practitioner/x');
    const refs = (e.entity ?? []).map((x) => x.what?.reference ?? x.what?.identifier?.value);
    expect(refs).to.include.members([`Patient/${P1}/_history/2`, `Patient/${P1}`, 'req-9']);
    const tx = (e.entity ?? []).find((x) => x.type?.code === 'XrequestId');
    expect(tx?.what?.identifier?.value).to.equal('req-9');
  });

  it('an event about several patients names each of them and keeps no single compartment patient', () => {
    const r = auditRecord({ interaction: 'search-type', action: 'E', outcome: '0', clinicId: 'c1', userId: 'u1', resourceType: 'Patient', query: 'family=x', patientIds: [P1, P2, P1] }, at);
    expect(r.patient_id).to.equal(null);
    expect(r.patient_ids).to.deep.equal([P1, P2]);
    expect(auditRecordInsertSql(r)).to.match(/insert into audit_event_patient/);
    const e = renderAuditEvent(r);
    expect((e.entity ?? []).filter((x) => x.role?.code === '1').map((x) => x.what?.reference)).to.deep.equal([`Patient/${P1}`, `Patient/${P2}`]);
    expect(Buffer.from((e.entity ?? []).find((x) => x.role?.code === '24')?.query ?? '', 'base64').toString()).to.equal('family=x');
  });

  it('an authorization-server event renders as DCM User Authentication with the token and its scopes', () => {
    const e = renderAuditEvent(auditRecord({ type: 'auth', interaction: 'token', action: 'E', outcome: '0', clinicId: 'c1', userId: 'u1', clientId: 'app', tokenId: 'jti-1', scope: 'patient/*.rs' }, at));
    expect(e.type).to.deep.include({ code: '110114' });
    expect(e.subtype?.[0]).to.deep.include({ system: 'urn:clinic-fhir:oauth', code: 'token' });
    expect(e.meta?.profile).to.equal(undefined);
    const token = (e.entity ?? []).find((x) => x.what?.identifier?.system === 'urn:clinic-fhir:token');
    expect(token?.what?.identifier?.value).to.equal('jti-1');
    expect(token?.detail?.[0]).to.deep.equal({ type: 'scope', valueString: 'patient/*.rs' });
    expect(renderAuditEvent(auditRecord({ type: 'auth', interaction: 'lockout', action: 'E', outcome: '4', clinicId: null }, at)).type).to.deep.include({ code: '110113' });
  });

  it('a privileged change renders as a DCM Security Alert naming the changed object, its old and new state and the CLI operator', () => {
    const e = renderAuditEvent(auditRecord({
      type: 'security', interaction: '110136', action: 'U', outcome: '0', clinicId: 'c1', resourceType: 'Role', resourceId: 'r1',
      detail: { old: '{"a":true}', new: '{"a":false}', operator: 'root@host' },
    }, at));
    expect(e.type).to.deep.include({ code: '110113' });
    expect(e.subtype?.[0]).to.deep.include({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110136' });
    expect(e.agent[0].who?.display).to.equal('root@host');
    const changed = e.entity?.find((x) => x.what?.display === 'Role/r1');
    expect(changed?.detail).to.deep.equal([{ type: 'old', valueString: '{"a":true}' }, { type: 'new', valueString: '{"a":false}' }]);
  });

  it('an access under a break-glass grant names the grant and carries the BTG purpose of use', () => {
    const e = renderAuditEvent(auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1', userId: 'u1', purposeOfUse: 'BTG', resourceType: 'Patient', resourceId: P1, detail: { grant: 'g1' } }, at));
    expect(e.agent[0].purposeOfUse?.[0].coding?.[0].code).to.equal('BTG');
    expect(e.entity?.some((x) => x.what?.identifier?.value === 'g1' && x.what.identifier.system === 'urn:clinic-fhir:break-glass-grant')).to.equal(true);
  });

  it('the JSON an AuditEvent search writes is byte for byte JSON.stringify of the rendered event, for every kind of row', () => {
    const P3 = '6f1c1a52-6a8e-4e43-9d0a-3a4d7f1e2b03';
    const rows = [
      auditRecord({ interaction: 'search-type', action: 'E', outcome: '0', clinicId: 'c1', userId: 'u1', roleName: 'doctor', resourceType: 'Patient', query: 'family=x"\\', patientIds: [P1, P2, P3], requestId: 'req-1', sourceIp: '10.0.0.1' }, at),
      auditRecord({ interaction: 'search-type', action: 'E', outcome: '0', clinicId: 'c1', clientId: 'app', resourceType: 'Appointment', query: 'patient=1', patientIds: [P1, P2], related: ['Practitioner/p1'], tokenId: 'jti', scope: 'system/*.rs', purposeOfUse: 'BTG', detail: { grant: 'g1', note: 'é "q"' } }, at),
      auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1', userId: 'u1', resourceType: 'Patient', resourceId: P1, versionId: '2', patientIds: [P1] }, at),
      auditRecord({ interaction: 'search-type', action: 'E', outcome: '4', outcomeDesc: 'refused', clinicId: 'c1', userId: 'u1', resourceType: 'Patient', query: 'x=1' }, at),
      auditRecord({ type: 'security', interaction: '110136', action: 'U', outcome: '0', clinicId: 'c1', resourceType: 'Role', resourceId: 'r1', detail: { old: '{"a":true}', new: '{"a":false}', operator: 'root@host' } }, at),
      auditRecord({ type: 'auth', interaction: 'token', action: 'E', outcome: '0', clinicId: 'c1', userId: 'u1', clientId: 'app', tokenId: 'jti-1', scope: 'patient/*.rs' }, at),
    ];
    for (const r of rows) expect(renderAuditEventJson(r)).to.equal(JSON.stringify(renderAuditEvent(r)));
    expect(JSON.parse(renderAuditEventJson(rows[0])).entity.filter((e: { role?: { code: string } }) => e.role?.code === '1')).to.have.length(3);
  });

  it('uuid[] columns are parsed by splitting, as pg would parse them', () => {
    expect(parseUuidArray('{}')).to.deep.equal([]);
    expect(parseUuidArray(`{${P1}}`)).to.deep.equal([P1]);
    expect(parseUuidArray(`{${P1},NULL,${P2}}`)).to.deep.equal([P1, null, P2]);
  });

  it('the canonical form is RFC 8785 JSON: sorted keys, no nulls, the same bytes for the same row', () => {
    expect(jcs({ b: 1, a: [true, null, 'é\u2028'], c: { z: 0.5, y: -0 } })).to.equal('{"a":[true,null,"é\u2028"],"b":1,"c":{"y":0,"z":0.5}}');
    const r = auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1', userId: 'u1', resourceType: 'Patient', resourceId: P1, patientIds: [P1] }, at);
    const form = canonicalAuditRow(r);
    expect(form.startsWith('{"action":"R","clinic_id":"c1","entity_id":')).to.equal(true);
    expect(form).to.not.include('null');
    // The same row read back from PostgreSQL (a Date for the instant) has the same form.
    expect(canonicalAuditRow({ ...r, last_updated: new Date(r.last_updated) as unknown as string })).to.equal(form);
    expect(crypto.createHash('sha256').update(form).digest('hex')).to.have.length(64);
  });

  it('the canonical form of every kind of row is byte for byte the generic JCS of its canonical values', () => {
    // The reference: the row's non-null columns with the instant in ISO form and uuids in lower case, through jcs.
    const reference = (row: Record<string, unknown>): string => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row)) {
        if (v === null || v === undefined) continue;
        if (k === 'last_updated') out[k] = new Date(v as string).toISOString();
        else if (['id', 'clinic_id', 'patient_id'].includes(k)) out[k] = String(v).toLowerCase();
        else if (k === 'patient_ids') out[k] = (v as string[]).map((p) => p.toLowerCase());
        else out[k] = v;
      }
      return jcs(out);
    };
    const upper = P1.toUpperCase();
    const rows: Array<Record<string, unknown>> = [
      { ...auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'C1', userId: 'u1', resourceType: 'Patient', resourceId: upper, patientIds: [upper] }, at) },
      { ...auditRecord({ interaction: 'search-type', action: 'E', outcome: '4', outcomeDesc: 'lone \ud800 "quoted" \u2028 é 😀', clinicId: 'c1', resourceType: 'Patient', query: 'family=x&given=%00', patientIds: [P1, upper] }, at) },
      { ...auditRecord({ type: 'security', interaction: '110136', action: 'U', outcome: '0', clinicId: 'c1', detail: { new: '{"a":1}', old: '{"a":0}', operator: 'root@host' }, related: ['Role/x'] }, at) },
      { ...auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1' }, at), last_updated: new Date('2026-01-02T03:04:05Z'), entity_version: '7' },
      { ...auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: 'c1' }, at), last_updated: '2026-01-02T03:04:05+01:00', legacy: { resourceType: 'AuditEvent', z: [1, 2.5, -0], a: null } },
    ];
    for (const row of rows) expect(canonicalAuditRow(row)).to.equal(reference(row));
  });
});
