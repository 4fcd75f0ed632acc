import type { AuditRecord } from '../../server/audit/record';
import { renderAuditEvent } from '../../server/audit/render';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { generateDataset, type GeneratedClinic } from '../../scripts/generate';
import { post } from '../helpers/resources';
import { admin, api, testServer, tokenFor } from '../helpers/server';

type Row = Record<string, unknown> & { id: string; resource: Record<string, unknown> };

/** A stored row with what differs between two writes of the same body (id, times) left out. */
async function stored(db: Knex, table: string, id: string) {
  const row = await db(table).where({ id }).first() as Row;
  const { id: _id, last_updated: _lu, resource, clinic_id: _c, patient_id: _p, ...columns } = row;
  const { id: _rid, meta, ...body } = resource as { id: string; meta: { versionId: string } };
  const index = await db(`${table}_search`).where({ id }).select('param', 'value').orderBy(['param', 'value']) as Array<{ param: string; value: string }>;
  const history = await db(`${table}_history`).where({ id }).select('version_id');
  // References to the row itself (a Patient's own id) differ between the two copies by design.
  const self = (v: string) => v.replace(id, '<self>');
  return { body, versionId: meta.versionId, columns: JSON.parse(self(JSON.stringify(columns))), index: index.map((i) => `${i.param}=${self(i.value)}`), history: history.map((h) => h.version_id) };
}

describe('Synthetic data generator', () => {
  let clinics: GeneratedClinic[];
  let db: Knex;

  before(async function () {
    this.timeout(120_000);
    const s = await testServer();
    db = await admin();
    clinics = await generateDataset(s.db.adminUrl, { clinics: 2, patients: 20, appointments: 20, medicationRequests: 20, auditEvents: 40, seed: 3 });
  });

  it('writes exactly what the API writes for the same body: resource, search columns, search index, history', async () => {
    const c = clinics[0];
    const token = await tokenFor({ clinicId: c.id, userId: c.doctorId, scope: 'user/*.cruds' });
    const auth = { Authorization: `Bearer ${token}` };
    for (const [type, table] of [['Patient', 'patient'], ['Appointment', 'appointment'], ['MedicationRequest', 'medication_request']] as const) {
      const generatedId = (await db(table).where({ clinic_id: c.id }).first('id')).id as string;
      const generated = await stored(db, table, generatedId);
      const res = await post(auth, type, generated.body);
      expect(res.status, res.text).to.equal(201);
      expect(await stored(db, table, res.body.id), type).to.deep.equal(generated);
    }
  });

  it("audit rows have the API's shape and are found by the compliance search", async () => {
    const c = clinics[1];
    const officer = await tokenFor({ clinicId: c.id, userId: c.complianceOfficerId, scope: 'user/AuditEvent.rs' });
    const row = await db('audit_event').where({ clinic_id: c.id }).whereNotNull('patient_id').first() as Row & { patient_id: string };
    const res = await (await api()).get(`/fhir/AuditEvent?patient=Patient/${row.patient_id}`).set({ Authorization: `Bearer ${officer}` });
    expect(res.status).to.equal(200);
    expect((res.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id)).to.include(row.id);
    // The AuditEvent the API just wrote for that search (its agent is the officer, whom the generator never uses).
    const apiWritten = await db('audit_event').where({ clinic_id: c.id }).where({ user_id: c.complianceOfficerId }).first() as Row;
    expect(apiWritten).to.not.equal(undefined);
    // A generated row renders as the API's rows do: the BALP profile of its action and its patient.
    const rendered = renderAuditEvent(row as unknown as AuditRecord);
    expect(rendered.meta?.profile?.[0]).to.match(/IHE\.BasicAudit\./);
    expect((rendered.entity ?? []).some((e) => e.what?.reference === `Patient/${row.patient_id}` && e.role?.code === '1')).to.equal(true);
    expect(renderAuditEvent(apiWritten as unknown as AuditRecord).agent[0].altId).to.equal(c.complianceOfficerId);
  });

  it('gives every clinic a doctor and a compliance officer, and splits the patients evenly', () => {
    expect(clinics).to.have.length(2);
    expect(clinics.map((c) => c.patientIds.length)).to.deep.equal([10, 10]);
  });
});
