import { expect } from 'chai';
import pg from 'pg';
import { auditEvents } from '../helpers/audit';
import { appointmentBody, created, newPatient } from '../helpers/resources';
import { actor, admin, api } from '../helpers/server';
import { ensurePrepared, PREPARED_PER_CONNECTION } from '../../server/pipeline/one-trip';

/** The messages the server's runtime pool sends while `f` runs, and the connection each went on. */
async function sentOn(f: () => Promise<unknown>): Promise<Array<{ conn: pg.Client; text: string }>> {
  const out: Array<{ conn: pg.Client; text: string }> = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0] as string | { text: string };
    if (this.user === 'fhir_runtime') out.push({ conn: this, text: typeof q === 'string' ? q : q.text });
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try { await f(); } finally { pg.Client.prototype.query = original; }
  return out;
}

/** A once-per-connection PREPARE, with the DEALLOCATE of the statement it replaces when the connection holds its most. */
const isPrepare = (text: string) => /^(deallocate \S+; )?prepare /.test(text);

/** The messages of a request, leaving out the once-per-connection PREPAREs of its statements. */
const sent = async (f: () => Promise<unknown>): Promise<string[]> => (await sentOn(f)).map((m) => m.text).filter((t) => !isPrepare(t));

describe('A read in one round trip: the cached role is a guess the database checks', () => {
  let doctor: Awaited<ReturnType<typeof actor>>;
  let patientId: string;

  before(async () => {
    doctor = await actor('doctor');
    patientId = await newPatient(doctor.auth, 'Onetrip');
  });

  const read = async (id = patientId, who = doctor) => (await api()).get(`/fhir/Patient/${id}`).set(who.auth);
  const readsOf = (id: string) => auditEvents((q) => q.where({ user_id: doctor.user, subtype: 'read', entity_id: id }));

  it('sends BEGIN, the checked context, the statement, its AuditEvent and COMMIT as one message, and records the version and patient', async () => {
    await read(); // the caller's role is cached by now
    const before = (await readsOf(patientId)).length;
    let res: Awaited<ReturnType<typeof read>> | undefined;
    const messages = await sent(async () => { res = await read(); });
    expect(res?.status).to.equal(200);
    expect(res?.body.id).to.equal(patientId);
    expect(messages).to.have.length(1);
    expect(messages[0]).to.match(new RegExp(`^BEGIN; select app_begin_checked\\(.*; execute read_[0-9a-f]+\\('${patientId}'\\); execute audit_[0-9a-f]+\\(.*\\); COMMIT$`, 's'));
    const events = await readsOf(patientId);
    expect(events).to.have.length(before + 1);
    const last = events[events.length - 1];
    expect(last.outcome).to.equal('0');
    expect((last.entity ?? []).map((e) => e.what?.reference)).to.include.members([`Patient/${patientId}/_history/1`, `Patient/${patientId}`]);
  });

  it('prepares the SELECT and the audit INSERT once per connection: later reads on it send only their EXECUTEs, and every read is audited', async () => {
    await read();
    const before = (await readsOf(patientId)).length;
    const messages = await sentOn(async () => { for (let i = 0; i < 24; i++) expect((await read()).status).to.equal(200); });
    const prepares = messages.filter((m) => isPrepare(m.text));
    const executes = messages.filter((m) => / execute audit_[0-9a-f]+\(/.test(m.text));
    expect(executes).to.have.length(24);
    expect(messages.filter((m) => / execute read_[0-9a-f]+\(/.test(m.text))).to.have.length(24);
    for (const p of prepares) {
      expect(p.text).to.match(/^(?:deallocate \S+; )?prepare (audit_[0-9a-f]+ \(.*\) as insert into audit_event \(.*\) select .* sha256\(|read_[0-9a-f]+ \(uuid\) as select .* from patient where id = \$1$)/s);
      // Once per connection: never again on the connection that prepared it.
      expect(prepares.filter((q) => q.conn === p.conn && q.text === p.text)).to.have.length(1);
      expect(messages.indexOf(p)).to.be.below(messages.findIndex((m) => m.conn === p.conn && m.text.includes(' execute ')));
    }
    expect(prepares.length).to.be.at.most(2 * new Set(executes.map((m) => m.conn)).size);
    expect(await readsOf(patientId)).to.have.length(before + 24);
  });

  it('a read of another compartment type records the patient the row belongs to', async () => {
    const appointment = await created(doctor.auth, 'Appointment', appointmentBody(patientId));
    await (await api()).get(`/fhir/Appointment/${appointment}`).set(doctor.auth);
    const messages = await sent(async () => expect((await (await api()).get(`/fhir/Appointment/${appointment}`).set(doctor.auth)).status).to.equal(200));
    expect(messages).to.have.length(1);
    const [row] = await (await admin())('audit_event').where({ entity_type: 'Appointment', entity_id: appointment, subtype: 'read' }).orderBy('last_updated', 'desc').limit(1);
    expect(row.patient_id).to.equal(patientId);
  });

  it('a role changed since it was cached is refused by the database, and the full path decides with the new role: 403, audited once', async () => {
    await read();
    const db = await admin();
    const [role] = await db('role').where({ clinic_id: doctor.clinic, name: 'doctor' }).select('id', 'permissions');
    const without = JSON.parse(JSON.stringify(role.permissions));
    without.clinical.patients.view = false;
    await db('role').where({ id: role.id }).update({ permissions: without });
    try {
      const refusalsBefore = (await auditEvents((q) => q.where({ user_id: doctor.user, outcome: '4', subtype: 'read' }))).length;
      const res = await read();
      expect(res.status).to.equal(403);
      expect(await auditEvents((q) => q.where({ user_id: doctor.user, outcome: '4', subtype: 'read' }))).to.have.length(refusalsBefore + 1);
    } finally {
      await db('role').where({ id: role.id }).update({ permissions: role.permissions });
    }
    expect((await read()).status).to.equal(200);
  });

  it('a membership disabled since it was cached gets 403 at once', async () => {
    const nurse = await actor('nurse', 'user/*.cruds', doctor.clinic);
    expect((await read(patientId, nurse)).status).to.equal(200);
    const db = await admin();
    await db('membership').where({ clinic_id: doctor.clinic, user_id: nurse.user }).update({ disabled: true });
    try {
      expect((await read(patientId, nurse)).status).to.equal(403);
    } finally {
      await db('membership').where({ clinic_id: doctor.clinic, user_id: nurse.user }).update({ disabled: false });
    }
  });

  it('a token revoked since the role was cached gets 401 and its refusal is audited', async () => {
    const nurse = await actor('nurse', 'user/*.cruds', doctor.clinic);
    expect((await read(patientId, nurse)).status).to.equal(200);
    const jti = JSON.parse(Buffer.from(nurse.token.split('.')[1], 'base64url').toString()).jti as string;
    await (await admin())('oauth_revoked_token').insert({ jti, expires_at: new Date(Date.now() + 3_600_000) });
    const res = await read(patientId, nurse);
    expect(res.status).to.equal(401);
    expect(await auditEvents((q) => q.where({ user_id: nurse.user, outcome_desc: 'token refused: token revoked' }))).to.have.length(1);
  });

  it('an unknown or deleted id is answered by the full path: 404 or 410 with exactly one refusal and no success recorded', async () => {
    await read();
    const missing = '0f0e0d0c-0b0a-4000-8000-000000000abc';
    const res = await read(missing);
    expect(res.status).to.equal(404);
    const events = await auditEvents((q) => q.where({ user_id: doctor.user, entity_id: missing }));
    expect(events.map((e) => e.outcome)).to.deep.equal(['4']);
    const gone = await newPatient(doctor.auth, 'Gone');
    expect((await (await api()).delete(`/fhir/Patient/${gone}`).set(doctor.auth)).status).to.be.oneOf([200, 204]);
    expect((await read(gone)).status).to.equal(410);
    const reads = await auditEvents((q) => q.where({ user_id: doctor.user, entity_id: gone, subtype: 'read' }));
    expect(reads.map((e) => e.outcome)).to.deep.equal(['4']);
  });

  it('a search page travels in one message whose AuditEvent names every patient the page shows, findable by each of them', async () => {
    const a = await newPatient(doctor.auth, 'Tripsearch');
    const b = await newPatient(doctor.auth, 'Tripsearch');
    await (await api()).get('/fhir/Patient?family=nobody-here').set(doctor.auth);
    let res: Awaited<ReturnType<typeof read>> | undefined;
    const messages = await sent(async () => { res = await (await api()).get('/fhir/Patient?family=Tripsearch&_count=1').set(doctor.auth); });
    expect(res?.status).to.equal(200);
    expect(messages).to.have.length(1);
    expect(res?.body.entry).to.have.length(1);
    expect(res?.body.link.map((l: { relation: string }) => l.relation)).to.include('next');
    const shown = res?.body.entry[0].resource.id as string;
    const [event] = await auditEvents((q) => q.where({ user_id: doctor.user, subtype: 'search-type', query: 'family=Tripsearch&_count=1' }));
    expect(event.outcome).to.equal('0');
    expect((event.entity ?? []).filter((e) => e.role?.code === '1').map((e) => e.what?.reference)).to.deep.equal([`Patient/${shown}`]);
    // The next page, then both on one page: an event about two patients is found by each (audit_event_patient).
    const both = await sent(async () => expect((await (await api()).get('/fhir/Patient?family=Tripsearch').set(doctor.auth)).body.entry).to.have.length(2));
    expect(both).to.have.length(1);
    const officer = await actor('compliance-officer', 'user/AuditEvent.rs', doctor.clinic);
    for (const p of [a, b]) {
      const trail = await (await api()).get(`/fhir/AuditEvent?patient=${p}&subtype=search-type`).set(officer.auth);
      const queries = (trail.body.entry ?? []).map((e: { resource: { entity: Array<{ query?: string }> } }) =>
        Buffer.from(e.resource.entity.find((x) => x.query)?.query ?? '', 'base64').toString());
      expect(queries, p).to.include('family=Tripsearch');
    }
  });

  it('a search page is a statement prepared per shape and run on its generic plan: other values reuse it, and each search is audited', async () => {
    const families = Array.from({ length: 12 }, (_, i) => `Shape${String.fromCharCode(97 + i)}${Date.now().toString(36)}`);
    const ids = await Promise.all(families.map((f) => newPatient(doctor.auth, f)));
    await (await api()).get(`/fhir/Patient?family=${families[0]}`).set(doctor.auth);
    const messages = await sentOn(async () => {
      for (const [i, f] of families.entries()) {
        const res = await (await api()).get(`/fhir/Patient?family=${f}`).set(doctor.auth);
        expect(res.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal([ids[i]]);
      }
    });
    const executes = messages.filter((m) => m.text.includes(' execute search_'));
    expect(executes).to.have.length(12);
    for (const m of executes) expect(m.text).to.match(/^BEGIN; select app_begin_checked\(.*; set local plan_cache_mode = force_generic_plan; execute search_[0-9a-f]+\(.*\); COMMIT$/s);
    // One statement for every value: the family is a parameter, not part of the text.
    const names = new Set(executes.map((m) => /execute (search_[0-9a-f]+)\(/.exec(m.text)?.[1]));
    expect(names.size).to.equal(1);
    const prepares = messages.filter((m) => /prepare search_/.test(m.text));
    expect(prepares.length).to.be.at.most(new Set(executes.map((m) => m.conn)).size);
    for (const p of prepares) expect(p.text).to.match(/prepare search_[0-9a-f]+ \(unknown, .*\) as with page as materialized/s);
    for (const f of families) {
      const [event] = await auditEvents((q) => q.where({ user_id: doctor.user, subtype: 'search-type', query: `family=${f}` }));
      expect(event.outcome, f).to.equal('0');
      expect(event.entity?.filter((e) => e.role?.code === '1').map((e) => e.what?.reference), f).to.deep.equal([`Patient/${ids[families.indexOf(f)]}`]);
    }
  });

  it(`keeps at most ${PREPARED_PER_CONNECTION} statements prepared per connection: the least recently used is deallocated by the message that prepares the next`, async () => {
    const n = PREPARED_PER_CONNECTION;
    const texts: string[] = [];
    const conn = { query: async (t: string) => { texts.push(t); return []; } };
    const statement = (i: number) => ({ name: `s_${i}`, prepare: `prepare s_${i} as select ${i}`, execute: `execute s_${i}` });
    for (let i = 0; i < n; i++) await ensurePrepared(conn, statement(i));
    await ensurePrepared(conn, statement(0)); // used again: the most recent now, and not prepared again
    expect(texts).to.have.length(n);
    await ensurePrepared(conn, statement(n));
    expect(texts[n]).to.equal(`deallocate s_1; prepare s_${n} as select ${n}`);
    await ensurePrepared(conn, statement(1));
    expect(texts[n + 1]).to.equal('deallocate s_2; prepare s_1 as select 1');
    await ensurePrepared(conn, statement(0));
    expect(texts).to.have.length(n + 2);
  });

  it('a search with a bad parameter is refused by the full path: 400 and one refusal recorded', async () => {
    await read();
    const before = (await auditEvents((q) => q.where({ user_id: doctor.user, outcome: '4', subtype: 'search-type' }))).length;
    const res = await (await api()).get('/fhir/Patient?birthdate=not-a-date').set(doctor.auth);
    expect(res.status).to.equal(400);
    expect(await auditEvents((q) => q.where({ user_id: doctor.user, outcome: '4', subtype: 'search-type' }))).to.have.length(before + 1);
  });

  it('a create travels in one message: the row, its history and exactly one AuditEvent, or nothing', async () => {
    await read();
    let res: Awaited<ReturnType<typeof read>> | undefined;
    const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Onetripcreate' }], gender: 'other' });
    const messages = await sent(async () => { res = await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', 'application/fhir+json').send(body); });
    expect(res?.status).to.equal(201);
    expect(messages).to.have.length(1);
    expect(messages[0]).to.match(/^BEGIN; select app_begin_checked\(.*; insert into patient .*; insert into audit_event .*; COMMIT$/s);
    const id = res?.body.id as string;
    expect(res?.headers.location).to.match(new RegExp(`/Patient/${id}/_history/1$`));
    expect((await read(id)).body.name[0].family).to.equal('Onetripcreate');
    const db = await admin();
    expect(await db('patient_history').where({ id }).count('* as n').first()).to.deep.equal({ n: '1' });
    const events = await auditEvents((q) => q.where({ user_id: doctor.user, subtype: 'create', entity_id: id }));
    expect(events.map((e) => e.outcome)).to.deep.equal(['0']);
    expect((await (await api()).get(`/fhir/Patient?family=Onetripcreate`).set(doctor.auth)).body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal([id]);
  });

  it('a create the full path must refuse (invalid body, a reference to check) is answered there, once', async () => {
    await read();
    const before = (await auditEvents((q) => q.where({ user_id: doctor.user, subtype: 'create', outcome: '4' }))).length;
    const bad = await (await api()).post('/fhir/Patient').set(doctor.auth).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Patient', gender: 'sometimes' }));
    expect(bad.status).to.equal(400);
    const dangling = await (await api()).post('/fhir/Appointment').set(doctor.auth).set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify(appointmentBody('0f0e0d0c-0b0a-4000-8000-0000000000ff')));
    expect(dangling.status).to.equal(422);
    expect(await auditEvents((q) => q.where({ user_id: doctor.user, subtype: 'create', outcome: '4' }))).to.have.length(before + 2);
  });
});
