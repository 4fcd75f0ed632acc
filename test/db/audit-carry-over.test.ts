import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { migrationSource } from '../../db/migrations';
import type { AuditRecord } from '../../server/audit/record';
import { renderAuditEvent } from '../../server/audit/render';
import { auditRowHash } from '../../server/audit/canonical';
import { hashRowsWrittenBeforeSealing } from '../../server/audit/legacy-hash';
import { databaseAt, dropDatabase } from '../helpers/migrated';
import { testServer } from '../helpers/server';

const CLINIC = crypto.randomUUID();
const P1 = crypto.randomUUID();
const P2 = crypto.randomUUID();
const USER = crypto.randomUUID();

/** An AuditEvent as the server stored it before migration 028 (the BALP document in `resource`). */
function storedBefore028(id: string, over: Record<string, unknown>): Record<string, unknown> {
  return {
    resourceType: 'AuditEvent', id, meta: { versionId: '1', lastUpdated: '2026-11-20T10:00:00.000Z', profile: ['https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read'] },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }], action: 'R', recorded: '2026-11-20T10:00:00.000Z', outcome: '0',
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, role: [{ coding: [{ system: 'urn:clinic-fhir:role', code: 'doctor' }] }], who: { identifier: { system: 'urn:clinic-fhir:user', value: USER } }, altId: USER, requestor: true, network: { address: '10.0.0.9', type: '2' } }],
    source: { site: CLINIC, observer: { display: 'clinic-fhir-server' } },
    entity: [
      { what: { reference: `Patient/${P1}/_history/1` }, type: { code: '2' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4' } },
      { what: { reference: `Patient/${P1}` }, type: { code: '1' }, role: { code: '1' } },
    ],
    ...over,
  };
}

describe('Migration 028 carries the audit trail over to typed rows', () => {
  let db: Knex;
  const name = `carry_${crypto.randomBytes(4).toString('hex')}`;
  const read = crypto.randomUUID();
  const search = crypto.randomUUID();
  let stored: Record<string, Record<string, unknown>>;

  before(async function (this: Mocha.Context) {
    this.timeout(120_000);
    const s = await testServer();
    db = await databaseAt(s.db.adminUrl, name, '027_practitioner');
    stored = {
      [read]: storedBefore028(read, {}),
      [search]: storedBefore028(search, {
        subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' }], action: 'E',
        entity: [
          { what: { display: 'Patient' }, type: { code: '2' } },
          { type: { code: '2' }, role: { code: '24' }, query: Buffer.from('family=x').toString('base64') },
          { what: { reference: `Patient/${P1}` }, role: { code: '1' } }, { what: { reference: `Patient/${P2}` }, role: { code: '1' } },
        ],
      }),
    };
    // As the pre-028 writer stored them (the migration account is a superuser here: RLS does not apply).
    await db('audit_event').insert([
      { id: read, clinic_id: CLINIC, version_id: 1, last_updated: '2026-11-20T10:00:00.000Z', patient_id: P1, resource: stored[read], sp_patient: [`Patient/${P1}`, P1], sp_agent: [USER] },
      { id: search, clinic_id: CLINIC, version_id: 1, last_updated: '2026-11-20T10:00:00.000Z', patient_id: null, resource: stored[search], sp_patient: [`Patient/${P1}`, P1, `Patient/${P2}`, P2], sp_agent: [USER] },
    ]);
    await db.migrate.latest({ migrationSource });
  });

  after(async function (this: Mocha.Context) {
    this.timeout(60_000);
    await db?.destroy();
    await dropDatabase((await testServer()).db.adminUrl, name);
  });

  it('every old row is kept, answers exactly the AuditEvent it stored, and has the typed columns searches use', async () => {
    const rows = await db('audit_event').whereIn('id', [read, search]).select('*') as AuditRecord[];
    expect(rows).to.have.length(2);
    for (const r of rows) expect(renderAuditEvent(r)).to.deep.equal(stored[r.id]);
    const r = rows.find((x) => x.id === read) as AuditRecord;
    expect(r).to.include({ clinic_id: CLINIC, type: 'rest', subtype: 'read', action: 'R', outcome: '0', user_id: USER, role: 'doctor', patient_id: P1, entity_type: 'Patient', entity_id: P1 });
  });

  it('an old event about several patients is found by each of them', async () => {
    const s = await db('audit_event').where({ id: search }).first() as AuditRecord;
    expect([...(s.patient_ids ?? [])].sort()).to.deep.equal([P1, P2].sort());
    const side = await db('audit_event_patient').where({ id: search }).pluck('patient_id');
    expect(side.sort()).to.deep.equal([P1, P2].sort());
  });

  it('the old tables and their trigger are gone; the new ones are append-only', async () => {
    expect((await db.raw("select to_regclass('audit_event_search') as t")).rows[0].t).to.equal(null);
    let error: unknown;
    await db.raw(`update audit_event set outcome = '4' where id = ?`, [read]).catch((e) => { error = e; });
    expect(String(error)).to.match(/append-only/);
  });

  it('old rows get the hash of their canonical form at start (before any sealing), and then nothing else may change', async () => {
    const url = new URL((await testServer()).db.adminUrl);
    url.pathname = `/${name}`;
    expect(await hashRowsWrittenBeforeSealing(url.toString())).to.equal(2);
    const rows = await db('audit_event').whereIn('id', [read, search]).select('*');
    for (const r of rows) expect(auditRowHash(r).equals(r.hash)).to.equal(true);
    expect(await hashRowsWrittenBeforeSealing(url.toString())).to.equal(0);
    let error: unknown;
    await db.raw(`update audit_event set hash = null where id = ?`, [read]).catch((e) => { error = e; });
    expect(String(error)).to.match(/append-only/);
  });
});
