import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Parameters } from 'fhir/r4';
import { auditRowHash } from '../../server/audit/canonical';
import { auditRecord } from '../../server/audit/record';
import { applyRetention } from '../../server/audit/retention';
import { Sealer } from '../../server/audit/sealer';
import { defaultRoles } from '../../server/auth/permissions';
import { auditRecordInsertSql } from '../../server/audit/writer';
import { logger } from '../../server/http/logger';
import { appointmentBody } from '../helpers/resources';
import { actor, admin, api, FHIR, patientBody, testServer } from '../helpers/server';

type Part = NonNullable<Parameters['parameter']>[number];
const param = (p: Parameters, name: string): Part | undefined => p.parameter?.find((x) => x.name === name);
const issues = (p: Parameters) => (p.parameter ?? []).filter((x) => x.name === 'issue').map((i) => ({
  kind: i.part?.find((x) => x.name === 'kind')?.valueCode,
  auditEvent: i.part?.find((x) => x.name === 'auditEvent')?.valueReference?.reference,
  first: i.part?.find((x) => x.name === 'first')?.valueBoolean,
}));

async function seal(): Promise<void> {
  const s = await testServer();
  await s.sealer!.sealNow();
}

/** A clinic with a doctor who wrote and read a few patients, a compliance officer, and everything sealed. */
async function sealedClinic(reads = 3) {
  const doctor = await actor('doctor');
  const officer = await actor('compliance-officer', 'user/AuditEvent.rs', doctor.clinic);
  const http = await api();
  for (let i = 0; i < reads; i++) {
    const created = await http.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody(`Seal${i}`));
    expect(created.status).to.equal(201);
    expect((await http.get(`/fhir/Patient/${created.body.id}`).set(doctor.auth)).status).to.equal(200);
  }
  await seal();
  return { doctor, officer, http };
}

async function verify(officer: { auth: Record<string, string> }, body?: Parameters) {
  const http = await api();
  const res = await http.post('/fhir/AuditEvent/$verify').set(officer.auth).set('Content-Type', FHIR).send(body ? JSON.stringify(body) : '');
  return res;
}

/** As the PostgreSQL superuser, with the append-only triggers out of the way. */
async function asSuperuser(sql: string, bindings: unknown[] = []): Promise<void> {
  const db = await admin();
  await db.transaction(async (trx) => {
    await trx.raw('set local session_replication_role = replica'); // triggers off, as an attacker with superuser would
    await trx.raw(sql, bindings as never[]);
  });
}

describe('Audit integrity: the seal, $verify and $checkpoint', function () {
  this.timeout(120_000);

  it('an untouched, sealed trail verifies as valid, and each row carries the hash of its canonical form', async () => {
    const { officer, doctor } = await sealedClinic();
    const res = await verify(officer);
    expect(res.status).to.equal(200);
    expect(param(res.body, 'result')?.valueCode).to.equal('valid');
    expect(param(res.body, 'checked')?.valueInteger).to.be.greaterThan(5);
    expect(issues(res.body)).to.deep.equal([]);
    const rows = await (await admin())('audit_event').where({ clinic_id: doctor.clinic }).select('*');
    for (const r of rows) expect(auditRowHash(r).equals(r.hash), `row ${r.id}`).to.equal(true);
  });

  it('a sealed row changed by a superuser is reported as row-modified, naming that AuditEvent first', async () => {
    const { officer, doctor } = await sealedClinic();
    const db = await admin();
    const target = await db('audit_event').where({ clinic_id: doctor.clinic, subtype: 'read' }).orderBy('last_updated').first('id');
    await asSuperuser(`update audit_event set outcome_desc = 'nothing to see' where id = ?`, [target.id]);
    const res = await verify(officer);
    expect(res.status).to.equal(200);
    expect(param(res.body, 'result')?.valueCode).to.equal('invalid');
    const found = issues(res.body);
    expect(found[0]).to.deep.equal({ kind: 'row-modified', auditEvent: `AuditEvent/${target.id}`, first: true });
    expect(found.filter((i) => i.first)).to.have.length(1);
  });

  it('a row whose hash a superuser cut short before it was sealed is sealed as it stands and reported as row-modified, alone', async () => {
    await seal();
    const doctor = await actor('doctor');
    const officer = await actor('compliance-officer', 'user/AuditEvent.rs', doctor.clinic);
    const http = await api();
    for (let i = 0; i < 3; i++) expect((await http.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody(`Short${i}`))).status).to.equal(201);
    const db = await admin();
    const target = await db('audit_event').where({ clinic_id: doctor.clinic, subtype: 'create' }).orderBy('last_updated').offset(1).first('id');
    await asSuperuser(`update audit_event set hash = '\\x0102030405'::bytea where id = ?`, [target.id]);
    await seal();
    const [block] = await db('audit_seal_block').where({ clinic_id: doctor.clinic }).select('ids', 'hashes');
    expect(block.hashes[block.ids.indexOf(target.id)].toString('hex')).to.equal('0102030405');
    const res = await verify(officer);
    expect(param(res.body, 'result')?.valueCode).to.equal('invalid');
    expect(issues(res.body)).to.deep.equal([{ kind: 'row-modified', auditEvent: `AuditEvent/${target.id}`, first: true }]);
  });

  it('a sealed row deleted by a superuser is reported as row-missing', async () => {
    const { officer, doctor } = await sealedClinic();
    const db = await admin();
    const target = await db('audit_event').where({ clinic_id: doctor.clinic, subtype: 'create' }).orderBy('last_updated').first('id');
    await asSuperuser('delete from audit_event where id = ?', [target.id]);
    const res = await verify(officer);
    expect(param(res.body, 'result')?.valueCode).to.equal('invalid');
    expect(issues(res.body)[0]).to.deep.equal({ kind: 'row-missing', auditEvent: `AuditEvent/${target.id}`, first: true });
  });

  it('a row rewritten, re-hashed and re-sealed inside the database no longer reaches the signed checkpoint', async () => {
    const { officer, doctor } = await sealedClinic();
    const db = await admin();
    const target = await db('audit_event').where({ clinic_id: doctor.clinic, subtype: 'read' }).orderBy('last_updated').first('*');
    const forged = { ...target, user_id: 'someone-else' };
    const hash = auditRowHash(forged);
    await asSuperuser('update audit_event set user_id = ?, hash = ? where id = ?', [forged.user_id, hash, target.id]);
    await asSuperuser('update audit_seal_block set hashes[array_position(ids, ?::uuid)] = ? where ?::uuid = any(ids)', [target.id, hash, target.id]);
    const res = await verify(officer);
    expect(param(res.body, 'result')?.valueCode).to.equal('invalid');
    const found = issues(res.body);
    expect(found.map((i) => i.kind)).to.include('checkpoint-mismatch');
    expect(found.map((i) => i.kind)).not.to.include('row-modified');
    expect(found[0].first).to.equal(true);
  });

  it('restoring an older copy of the audit tables is reported as a rollback', async () => {
    const { officer, doctor, http } = await sealedClinic(2);
    const db = await admin();
    const copy = {
      rows: await db('audit_event').where({ clinic_id: doctor.clinic }).select('*'),
      blocks: await db('audit_seal_block').where({ clinic_id: doctor.clinic }).select('*'),
      checkpoints: await db('audit_checkpoint').where({ clinic_id: doctor.clinic }).select('*'),
    };
    // Later events, sealed and anchored in the object store.
    await http.get('/fhir/Patient?family=Seal0').set(doctor.auth).expect(200);
    await seal();
    // The "backup" comes back.
    for (const t of ['audit_event', 'audit_seal_block', 'audit_checkpoint']) await asSuperuser(`delete from ${t} where clinic_id = ?`, [doctor.clinic]);
    await db.transaction(async (trx) => {
      await trx.raw('set local session_replication_role = replica');
      await trx('audit_event').insert(copy.rows);
      await trx('audit_seal_block').insert(copy.blocks);
      await trx('audit_checkpoint').insert(copy.checkpoints);
    });
    const res = await verify(officer);
    expect(param(res.body, 'result')?.valueCode).to.equal('invalid');
    expect(issues(res.body).map((i) => i.kind)).to.include('rollback');
  });

  it('rows not sealed yet make the answer incomplete, and sealing them makes it valid', async () => {
    const { officer, doctor, http } = await sealedClinic(1);
    const resume = (await testServer()).sealer!.pause();
    await http.get('/fhir/Patient?family=Seal0').set(doctor.auth).expect(200);
    const before = await verify(officer);
    resume();
    expect(param(before.body, 'result')?.valueCode).to.equal('incomplete');
    expect(param(before.body, 'sealLagSeconds')?.valueDecimal).to.be.at.least(0);
    await seal();
    const after = await verify(officer, { resourceType: 'Parameters', parameter: [{ name: 'from', valueDateTime: '2020-01-01' }] });
    // The first $verify's own AuditEvent is now sealed too.
    expect(param(after.body, 'result')?.valueCode).to.equal('valid');
  });

  it('32 concurrent writers and a transaction held open: every row is sealed, in order, and nothing is reported', async function () {
    this.timeout(180_000);
    const { officer, doctor, http } = await sealedClinic(1);
    const db = await admin();
    const until = Date.now() + 30_000;
    let sealing = true;
    const sealer = (async () => { while (sealing) { await seal(); await new Promise((r) => setTimeout(r, 300)); } })();
    // A transaction that writes its audit row early and commits 10 s later, while the writers go on.
    const held = db.transaction(async (trx) => {
      await trx.raw(auditRecordInsertSql(auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: doctor.clinic, userId: doctor.user, resourceType: 'Patient' })));
      await new Promise((r) => setTimeout(r, 10_000));
    });
    let requests = 0;
    // Each writer its own doctor: one user's rate limit must not be what this measures.
    const doctors = await Promise.all(Array.from({ length: 32 }, () => actor('doctor', 'user/*.cruds', doctor.clinic)));
    const writer = async (i: number) => {
      while (Date.now() < until) {
        const res = i % 2
          ? await http.post('/fhir/Patient').set(doctors[i].auth).set('Content-Type', FHIR).send(patientBody(`Writer${i}`))
          : await http.get('/fhir/Patient?family=Seal0').set(doctors[i].auth);
        expect(res.status).to.be.oneOf([200, 201]);
        requests += 1;
      }
    };
    await Promise.all([held, ...Array.from({ length: 32 }, (_, i) => writer(i))]);
    sealing = false;
    await sealer;
    await seal();
    const rows = Number((await db('audit_event').where({ clinic_id: doctor.clinic }).count<{ count: string }[]>('* as count'))[0].count);
    const leaves = Number((await db.raw('select coalesce(sum(cardinality(ids)), 0)::int as n from audit_seal_block where clinic_id = ?', [doctor.clinic])).rows[0].n);
    expect(requests).to.be.greaterThan(100);
    expect(leaves).to.equal(rows);
    const res = await verify(officer);
    expect(issues(res.body)).to.deep.equal([]);
    expect(param(res.body, 'checked')?.valueInteger).to.equal(rows);
  });

  it('retention exports expired rows, removes them behind a signed record that $verify honours, and a row removed otherwise is still missing', async () => {
    const db = await admin();
    // Three events from two years ago, sealed first (retention cuts from the start of the chain).
    const clinicId = crypto.randomUUID();
    const old = new Date(Date.now() - 2 * 366 * 86_400_000);
    await db.raw([0, 1, 2].map((i) => auditRecordInsertSql(auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId, userId: 'u-old', resourceType: 'Patient', outcomeDesc: `old ${i}` }, new Date(old.getTime() + i)))).join('; '));
    await seal();
    // The clinic and its roles, then its members (whose creation is audited after the old rows).
    await db('clinic').insert({ id: clinicId, name: 'Retention clinic', audit_retention_years: 1 });
    await db('role').insert(Object.entries(defaultRoles()).map(([name, permissions]) => ({ clinic_id: clinicId, name, permissions: JSON.stringify(permissions) })));
    const doctor = await actor('doctor', 'user/*.cruds', clinicId);
    const officer = await actor('compliance-officer', 'user/AuditEvent.rs', clinicId);
    const http = await api();
    await http.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody('Kept')).expect(201);
    await seal();
    const s = await testServer();
    const cuts = await applyRetention(s.db.adminUrl, s.seal!.key, s.seal!.anchors);
    const mine = cuts.find((c) => c.clinicId === clinicId);
    expect(mine).to.include({ throughSeq: 3, removedRows: 3 });
    expect(await db('audit_event').where({ clinic_id: clinicId }).where('last_updated', '<', new Date(Date.now() - 366 * 86_400_000))).to.have.length(0);
    const archive = (await s.seal!.anchors.get(mine!.exportKey)).trim().split('\n').map((l) => JSON.parse(l));
    expect(archive.map((l) => [l.seq, l.row.outcome_desc])).to.deep.equal([[1, 'old 0'], [2, 'old 1'], [3, 'old 2']]);
    await seal();
    const res = await verify(officer);
    expect(issues(res.body)).to.deep.equal([]);
    expect(param(res.body, 'result')?.valueCode).to.equal('valid');
    const kept = await db('audit_event').where({ clinic_id: clinicId, subtype: 'create' }).first('id');
    await asSuperuser('delete from audit_event where id = ?', [kept.id]);
    expect(issues((await verify(officer)).body)[0]).to.deep.equal({ kind: 'row-missing', auditEvent: `AuditEvent/${kept.id}`, first: true });
  });

  it('a row written without its hash (a raw insert, or AUDIT_SEAL=false) is hashed by the audit keeper and sealed, not passed over', async () => {
    const { officer, doctor } = await sealedClinic(1);
    const db = await admin();
    const r = auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: doctor.clinic, userId: doctor.user, resourceType: 'Patient' });
    await db('audit_event').insert({ ...r, detail: null });
    await seal();
    const row = await db('audit_event').where({ id: r.id }).first('*');
    expect(auditRowHash(row).equals(row.hash)).to.equal(true);
    expect((await db.raw('select b.first_seq from audit_seal_block b, unnest(b.ids) i(id) where i.id = ?', [r.id])).rows).to.have.length(1);
    expect(param((await verify(officer)).body, 'result')?.valueCode).to.equal('valid');
  });

  it('a backlog of several rounds gets a checkpoint per round but one anchored object per clinic, covering them all', async () => {
    const { officer, doctor } = await sealedClinic(1);
    const s = await testServer();
    const db = await admin();
    const before = await s.seal!.anchors.keys(`audit-checkpoints/${doctor.clinic}/`);
    const checkpointsBefore = Number((await db('audit_checkpoint').where({ clinic_id: doctor.clinic }).count<{ count: string }[]>('* as count'))[0].count);
    const resume = s.sealer!.pause();
    try {
      for (let i = 0; i < 12; i++) {
        const rows = Array.from({ length: 1000 }, () => {
          const r = { ...auditRecord({ interaction: 'read', action: 'R', outcome: '0', clinicId: doctor.clinic, userId: doctor.user, resourceType: 'Patient' }), detail: null };
          return { ...r, hash: auditRowHash(r) };
        });
        await db('audit_event').insert(rows);
      }
    } finally {
      resume();
    }
    await seal();
    const checkpoints = await db('audit_checkpoint').where({ clinic_id: doctor.clinic }).orderBy('tree_size').select('tree_size', 'anchored_at');
    // 12 000 rows are three rounds of the sealer (5 000 each): three checkpoints, one object written.
    expect(checkpoints.length - checkpointsBefore).to.be.at.least(3);
    expect(checkpoints.filter((c) => c.anchored_at === null)).to.deep.equal([]);
    const after = await s.seal!.anchors.keys(`audit-checkpoints/${doctor.clinic}/`);
    expect(after.length - before.length).to.equal(1);
    expect(after[after.length - 1]).to.match(new RegExp(`/0*${checkpoints[checkpoints.length - 1].tree_size}\\.json$`));
    expect(param((await verify(officer)).body, 'result')?.valueCode).to.equal('valid');
  });

  it('a round told not to anchor leaves its checkpoints unanchored and $verify incomplete, until a pass anchors them', async () => {
    const s = await testServer();
    await seal();
    const doctor = await actor('doctor');
    const officer = await actor('compliance-officer', 'user/AuditEvent.rs', doctor.clinic);
    expect((await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody('Unanchored'))).status).to.equal(201);
    const round = await s.sealer!.sealNow({ anchor: false });
    expect(round.sealed).to.be.greaterThan(0);
    expect(round.anchored).to.equal(0);
    const db = await admin();
    const unanchored = () => db('audit_checkpoint').where({ clinic_id: doctor.clinic }).whereNull('anchored_at').count<Array<{ count: string }>>('* as count');
    expect(Number((await unanchored())[0].count)).to.be.greaterThan(0);
    const res = await verify(officer, { resourceType: 'Parameters', parameter: [{ name: 'to', valueDateTime: new Date(Date.now() - 1).toISOString() }] });
    expect(param(res.body, 'result')?.valueCode).to.equal('incomplete');
    expect(issues(res.body)).to.deep.equal([]);
    await seal();
    expect(Number((await unanchored())[0].count)).to.equal(0);
  });

  it('rounds anchor once per AUDIT_ANCHOR_INTERVAL_MS (the timer asks anchorDue), however often they seal', async () => {
    const s = await testServer();
    let now = 1_000_000;
    const sealer = new Sealer(s.db.background, s.seal!.key, s.seal!.anchors, logger, 60_000, undefined, 10_000, () => now);
    expect(sealer.anchorDue()).to.equal(true);
    // The shared sealer holds the deployment's lock: it lets go, and this one takes the rounds.
    await s.sealer!.stop();
    try {
      const doctor = await actor('doctor');
      const db = await admin();
      const write = async () => expect((await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody('Cadence'))).status).to.equal(201);
      const anchoredCount = async () => Number((await db('audit_checkpoint').where({ clinic_id: doctor.clinic }).whereNotNull('anchored_at').count<Array<{ count: string }>>('* as count'))[0].count);
      await write();
      expect((await sealer.sealNow({ anchor: sealer.anchorDue() })).anchored).to.be.greaterThan(0);
      expect(sealer.anchorDue()).to.equal(false);
      const anchored = await anchoredCount();
      now += 9_999;
      await write();
      const r = await sealer.sealNow({ anchor: sealer.anchorDue() });
      expect(r.sealed).to.be.greaterThan(0);
      expect(r.anchored).to.equal(0);
      expect(await anchoredCount()).to.equal(anchored);
      now += 1;
      expect(sealer.anchorDue()).to.equal(true);
      expect((await sealer.sealNow({ anchor: sealer.anchorDue() })).anchored).to.be.greaterThan(0);
      expect(await anchoredCount()).to.be.greaterThan(anchored);
    } finally {
      await sealer.stop();
    }
  });

  it('a pass the object store refuses stays due, so the next round anchors again', async () => {
    const s = await testServer();
    let failing = true;
    const anchors = { ...s.seal!.anchors, put: async (key: string, body: string) => { if (failing) throw new Error('unreachable'); await s.seal!.anchors.put(key, body); } };
    const sealer = new Sealer(s.db.background, s.seal!.key, anchors, logger, 60_000, undefined, 10_000, () => 5_000_000);
    await s.sealer!.stop();
    try {
      const doctor = await actor('doctor');
      expect((await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody('Refused'))).status).to.equal(201);
      expect((await sealer.sealNow()).anchored).to.equal(0);
      expect(sealer.anchorDue()).to.equal(true);
      failing = false;
      expect((await sealer.sealNow({ anchor: sealer.anchorDue() })).anchored).to.be.greaterThan(0);
      expect(sealer.anchorDue()).to.equal(false);
    } finally {
      await sealer.stop();
    }
  });

  it('a read answered in one round trip audits the version and patient it read, hashed in SQL as in JS', async () => {
    const doctor = await actor('doctor');
    const http = await api();
    const patient = (await http.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(patientBody('OneTrip'))).body;
    const appointment = (await http.post('/fhir/Appointment').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(appointmentBody(patient.id)))).body;
    expect(appointment.id).to.be.a('string');
    await http.put(`/fhir/Appointment/${appointment.id}`).set(doctor.auth).set('Content-Type', FHIR)
      .send(JSON.stringify({ ...appointment, status: 'arrived' })).expect(200);
    // Twice: the first read caches the role, the second is sent in one round trip.
    for (let i = 0; i < 2; i++) await http.get(`/fhir/Appointment/${appointment.id}`).set(doctor.auth).expect(200);
    // A Patient row has no patient column: its patient is known before the statement, only its version is computed.
    for (let i = 0; i < 2; i++) await http.get(`/fhir/Patient/${patient.id}`).set(doctor.auth).expect(200);
    await http.get(`/fhir/Appointment/${crypto.randomUUID()}`).set(doctor.auth).expect(404);
    // A search page in one round trip names its patient in SQL too.
    for (let i = 0; i < 2; i++) await http.get(`/fhir/Appointment?patient=Patient/${patient.id}`).set(doctor.auth).expect(200);
    const db = await admin();
    const reads = await db('audit_event').where({ clinic_id: doctor.clinic, subtype: 'read', entity_type: 'Appointment' }).orderBy('last_updated').select('*');
    expect(reads.filter((r) => r.outcome === '0').map((r) => [r.entity_id, r.entity_version, r.patient_id]))
      .to.deep.equal([[appointment.id, '2', patient.id], [appointment.id, '2', patient.id]]);
    const all = await db('audit_event').where({ clinic_id: doctor.clinic }).select('*');
    expect(all.filter((r) => r.subtype === 'search-type' && r.patient_id === patient.id)).to.have.length(2);
    for (const r of all) expect(auditRowHash(r).equals(r.hash), `row ${r.id} (${r.subtype})`).to.equal(true);
  });

  it('$checkpoint answers the clinic\'s latest signed checkpoint, whose signature verifies with the published key', async () => {
    const { officer } = await sealedClinic(1);
    const res = await (await api()).get('/fhir/AuditEvent/$checkpoint').set(officer.auth);
    expect(res.status).to.equal(200);
    const crypto = await import('node:crypto');
    const jwk = JSON.parse(param(res.body, 'publicKey')?.valueString as string);
    const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    const statement = param(res.body, 'statement')?.valueString as string;
    const signature = Buffer.from(param(res.body, 'signature')?.valueBase64Binary as string, 'base64');
    expect(crypto.verify(null, Buffer.from(statement), key, signature)).to.equal(true);
    expect(JSON.parse(statement).size).to.equal(param(res.body, 'treeSize')?.valueInteger);
  });

  it('refuses $verify without compliance.auditEvents.verify (403) and bad input (400), auditing each', async () => {
    const { officer, doctor } = await sealedClinic(1);
    const http = await api();
    expect((await verify(doctor)).status).to.equal(403);
    const bad = [
      { resourceType: 'Parameters', parameter: [{ name: 'from', valueDateTime: '2026-13-01' }] },
      { resourceType: 'Parameters', parameter: [{ name: 'from', valueDateTime: '2026-11-02' }, { name: 'to', valueDateTime: '2026-11-01' }] },
      { resourceType: 'Parameters', parameter: [{ name: 'since', valueDateTime: '2026-11-01' }] },
    ];
    for (const body of bad) {
      const res = await verify(officer, body as Parameters);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    }
    expect((await http.post('/fhir/AuditEvent/$verify?from=yesterday').set(officer.auth)).status).to.equal(400);
    const db = await admin();
    const refusals = await db('audit_event').where({ clinic_id: doctor.clinic, subtype: 'operation', outcome: '4' }).count<{ count: string }[]>('* as count');
    expect(Number(refusals[0].count)).to.equal(5);
  });
});
