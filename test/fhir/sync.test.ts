import crypto from 'node:crypto';
import { expect } from 'chai';
import { auditOf } from '../helpers/audit';
import { appointmentBody, documentReferenceBody, medicationRequestBody, newPatient, post, put } from '../helpers/resources';
import { actor, admin, api, FHIR, patientBody } from '../helpers/server';

type Auth = Record<string, string>;
type Entry = { fullUrl: string; resource?: { id: string; resourceType: string; meta: { versionId: string } }; request: { method: string } };
type Link = { relation: string; url: string };

const pathOf = (url: string) => { const u = new URL(url); return `${u.pathname}${u.search}`; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function get(auth: Auth, path: string, headers: Record<string, string> = {}) {
  return (await api()).get(path).set(auth).set(headers);
}

/** Every page of a history, following `next` links. */
async function allPages(auth: Auth, path: string): Promise<{ entries: Entry[]; pages: number }> {
  const entries: Entry[] = [];
  let next: string | undefined = path;
  let pages = 0;
  while (next) {
    const res = await get(auth, next);
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    entries.push(...((res.body.entry ?? []) as Entry[]));
    next = ((res.body.link ?? []) as Link[]).find((l) => l.relation === 'next')?.url;
    if (next) next = pathOf(next);
    pages++;
    expect(pages).to.be.lessThan(50);
  }
  return { entries, pages };
}

describe('Update as create: PUT to a new client-chosen id', () => {
  it('creates it (201, Location, audited as create), and two clinics may use the same id without seeing each other', async () => {
    const a = await actor('doctor');
    const b = await actor('doctor');
    const id = crypto.randomUUID();
    const ra = await put(a.auth, 'Patient', id, { ...patientBody('Alpha'), id });
    expect(ra.status, ra.text).to.equal(201);
    expect(ra.headers.location).to.match(new RegExp(`/fhir/Patient/${id}/_history/1$`));
    expect(ra.body).to.include({ id });
    const rb = await put(b.auth, 'Patient', id, { ...patientBody('Bravo'), id });
    expect(rb.status, rb.text).to.equal(201);
    expect((await get(a.auth, `/fhir/Patient/${id}`)).body.name[0].family).to.equal('Alpha');
    expect((await get(b.auth, `/fhir/Patient/${id}`)).body.name[0].family).to.equal('Bravo');
    // A second PUT is an ordinary update of the caller's own record.
    const again = await put(a.auth, 'Patient', id, { ...patientBody('Alpha2'), id });
    expect(again.status).to.equal(200);
    expect(again.body.meta.versionId).to.equal('2');
    expect((await get(b.auth, `/fhir/Patient/${id}`)).body.meta.versionId).to.equal('1');
    const rows = await (await admin())('patient').where({ id }).select('clinic_id');
    expect(rows.map((r) => r.clinic_id).sort()).to.deep.equal([a.clinic, b.clinic].sort());
    expect((await auditOf(a.user)).filter((e) => e.subtype === 'create' && e.entity.includes(id))).to.have.length(1);
  });

  it('a compartment resource can be created at its own id too', async () => {
    const a = await actor('doctor');
    const patient = await newPatient(a.auth, 'Owner');
    const id = crypto.randomUUID();
    const res = await put(a.auth, 'Appointment', id, { ...appointmentBody(patient), id });
    expect(res.status, res.text).to.equal(201);
    expect((await get(a.auth, `/fhir/Appointment?patient=${patient}`)).body.entry[0].resource.id).to.equal(id);
  });

  it('a non-UUID id is a 400 saying ids are UUIDs; If-Match on a new id is a 412; no create permission is a 403; each audited, nothing stored', async () => {
    const a = await actor('doctor');
    const bad = await put(a.auth, 'Patient', 'my-own-id-1', { ...patientBody(), id: 'my-own-id-1' });
    expect(bad.status).to.equal(400);
    expect(bad.body.issue[0].diagnostics).to.match(/UUID/);
    const id = crypto.randomUUID();
    const stale = await put(a.auth, 'Patient', id, { ...patientBody(), id }, 'W/"3"');
    expect(stale.status).to.equal(412);
    const updater = await actor('doctor', 'user/Patient.u', a.clinic);
    const refused = await put(updater.auth, 'Patient', id, { ...patientBody(), id });
    expect(refused.status).to.equal(403);
    expect(await (await admin())('patient').where({ id }).first()).to.equal(undefined);
    expect((await auditOf(a.user)).filter((e) => e.outcome === '4').map((e) => e.subtype)).to.include.members(['update']);
    expect((await auditOf(updater.user)).at(-1)).to.include({ outcome: '4' });
  });
});

describe('Conditional read with If-Modified-Since', () => {
  it('answers 304 when the resource has not changed since, 200 when it has (one-trip and full path)', async () => {
    const a = await actor('doctor');
    const patient = await newPatient(a.auth, 'Since');
    const doc = (await post(a.auth, 'DocumentReference', documentReferenceBody(patient))).body.id as string;
    for (const path of [`/fhir/Patient/${patient}`, `/fhir/DocumentReference/${doc}`]) {
      const first = await get(a.auth, path);
      const lastModified = first.headers['last-modified'];
      expect(lastModified, path).to.be.a('string');
      expect((await get(a.auth, path, { 'If-Modified-Since': lastModified })).status, path).to.equal(304);
      expect((await get(a.auth, path, { 'If-Modified-Since': new Date(Date.now() + 3600_000).toUTCString() })).status).to.equal(304);
      const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
      const changed = await get(a.auth, path, { 'If-Modified-Since': older });
      expect(changed.status).to.equal(200);
      expect(changed.body.id).to.be.a('string');
      expect((await get(a.auth, path, { 'If-Modified-Since': 'not a date' })).status).to.equal(200);
      // If-None-Match decides when both are sent.
      expect((await get(a.auth, path, { 'If-Modified-Since': lastModified, 'If-None-Match': 'W/"99"' })).status).to.equal(200);
    }
  });
});

describe('History for sync: system level, paging, _since and _at', () => {
  it('GET [base]/_history lists every version of the clinic across types, newest first, and nothing of another clinic', async () => {
    const a = await actor('doctor');
    const other = await actor('doctor');
    const theirs = await newPatient(other.auth, 'Theirs');
    const patient = await newPatient(a.auth, 'Mine');
    const mr = (await post(a.auth, 'MedicationRequest', medicationRequestBody(patient))).body.id as string;
    await put(a.auth, 'Patient', patient, { ...patientBody('Mine2'), id: patient });
    const res = await get(a.auth, '/fhir/_history');
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    expect(res.body.type).to.equal('history');
    const seen = (res.body.entry as Entry[]).map((e) => `${e.resource?.resourceType}/${e.resource?.id}/${e.resource?.meta.versionId}`);
    expect(seen).to.deep.equal([`Patient/${patient}/2`, `MedicationRequest/${mr}/1`, `Patient/${patient}/1`]);
    expect(JSON.stringify(res.body)).to.not.include(theirs);
    expect((await auditOf(a.user)).at(-1)).to.include({ subtype: 'history-system', action: 'R', outcome: '0' });
  });

  it('paging: _count pages carry next links that reach every version once; _count=0 has no next link', async () => {
    const a = await actor('doctor');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await newPatient(a.auth, `Page${i}`));
    for (const path of ['/fhir/_history?_count=3', '/fhir/Patient/_history?_count=3']) {
      const { entries, pages } = await allPages(a.auth, path);
      expect(pages, path).to.equal(3);
      expect(entries.map((e) => e.resource?.id).sort(), path).to.deep.equal([...ids].sort());
    }
    const zero = await get(a.auth, '/fhir/_history?_count=0');
    expect(zero.status).to.equal(200);
    expect((zero.body.link as Link[]).map((l) => l.relation)).to.deep.equal(['self']);
    expect(zero.body.entry).to.equal(undefined);
  });

  it('_since keeps versions from then on; _at keeps the versions current at that moment', async () => {
    const a = await actor('doctor');
    const early = await newPatient(a.auth, 'Early');
    const v1 = (await get(a.auth, `/fhir/Patient/${early}`)).body;
    await sleep(20);
    const between = new Date(Date.parse(v1.meta.lastUpdated) + 10).toISOString();
    await sleep(20);
    await put(a.auth, 'Patient', early, { ...patientBody('Early2'), id: early });
    const late = await newPatient(a.auth, 'Late');

    const since = await get(a.auth, `/fhir/_history?_since=${encodeURIComponent(between)}`);
    expect((since.body.entry as Entry[]).map((e) => `${e.resource?.id}/${e.resource?.meta.versionId}`)).to.deep.equal([`${late}/1`, `${early}/2`]);
    const at = await get(a.auth, `/fhir/Patient/_history?_at=${encodeURIComponent(between)}`);
    expect(at.status, at.text.slice(0, 300)).to.equal(200);
    expect((at.body.entry as Entry[]).map((e) => `${e.resource?.id}/${e.resource?.meta.versionId}`)).to.deep.equal([`${early}/1`]);
    const sysAt = await get(a.auth, `/fhir/_history?_at=${encodeURIComponent(between)}`);
    expect((sysAt.body.entry as Entry[]).map((e) => `${e.resource?.id}/${e.resource?.meta.versionId}`)).to.deep.equal([`${early}/1`]);
  });

  it('a malformed _since or _at, an unknown parameter, an edited or replayed page link: 400, audited', async () => {
    const a = await actor('doctor');
    const b = await actor('doctor');
    await newPatient(a.auth, 'One');
    await newPatient(a.auth, 'Two');
    for (const q of ['_since=yesterday', '_since=2024-01-01', '_at=2024-13', '_count=-1', '_count=5000', 'family=x', '_page=abc.def']) {
      const res = await get(a.auth, `/fhir/_history?${q}`);
      expect(res.status, q).to.equal(400);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    }
    const next = ((await get(a.auth, '/fhir/_history?_count=1')).body.link as Link[]).find((l) => l.relation === 'next')!.url;
    expect((await get(b.auth, pathOf(next))).status).to.equal(400);
    expect((await get(a.auth, pathOf(next).replace('_count=1', '_count=2'))).status).to.equal(400);
    expect((await auditOf(a.user)).filter((e) => e.subtype === 'history-system' && e.outcome === '4').length).to.be.greaterThan(6);
  });

  it('types the role may not read are left out of system history and audited as withheld', async () => {
    const desk = await actor('front-desk');
    const doc = await actor('doctor', 'user/*.cruds', desk.clinic);
    const patient = await newPatient(doc.auth, 'Shared');
    const mr = (await post(doc.auth, 'MedicationRequest', medicationRequestBody(patient))).body.id as string;
    const res = await get(desk.auth, '/fhir/_history');
    expect(res.status).to.equal(200);
    expect(JSON.stringify(res.body)).to.include(patient);
    expect(JSON.stringify(res.body)).to.not.include(mr);
    const trail = await auditOf(desk.user);
    expect(trail.some((e) => e.subtype === 'history-system' && e.outcome === '4' && /MedicationRequest/.test(e.outcomeDesc))).to.equal(true);
    const auditOnly = await actor('compliance-officer', 'user/AuditEvent.rs', desk.clinic);
    expect((await get(auditOnly.auth, '/fhir/_history')).status).to.equal(403);
  });
});

describe('Conditional references in transaction Bundles', () => {
  const transaction = async (auth: Auth, entries: unknown[]) => (await api()).post('/fhir').set(auth).set('Content-Type', FHIR)
    .send(JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: entries }));
  const identified = (value: string) => patientBody('Ident', { identifier: [{ system: 'urn:mrn', value }] });
  const apptEntry = (ref: string) => ({ resource: { ...appointmentBody('x'), participant: [{ actor: { reference: ref }, status: 'accepted' }] }, request: { method: 'POST', url: 'Appointment' } });

  it('a reference Patient?identifier=s|v is resolved in the caller clinic to the one match', async () => {
    const a = await actor('doctor');
    const patient = (await post(a.auth, 'Patient', identified('MRN-1'))).body.id as string;
    // Another clinic holding the same identifier changes nothing: its rows are invisible here.
    const other = await actor('doctor');
    await post(other.auth, 'Patient', identified('MRN-1'));
    const res = await transaction(a.auth, [apptEntry('Patient?identifier=urn:mrn|MRN-1')]);
    expect(res.status, res.text.slice(0, 400)).to.equal(200);
    const location = res.body.entry[0].response.location as string;
    const appt = await get(a.auth, `/fhir/${location.split('/_history')[0].split('/fhir/').pop()}`);
    expect(appt.body.participant[0].actor.reference).to.equal(`Patient/${patient}`);
    expect((await auditOf(a.user)).some((e) => e.subtype === 'search-type' && e.outcome === '0')).to.equal(true);
  });

  it('no match or several matches is a 412 and nothing of the transaction is written', async () => {
    const a = await actor('doctor');
    await post(a.auth, 'Patient', identified('DUP'));
    await post(a.auth, 'Patient', identified('DUP'));
    const before = Number((await (await admin())('appointment').where({ clinic_id: a.clinic }).count({ n: '*' }))[0].n);
    const beforePatients = Number((await (await admin())('patient').where({ clinic_id: a.clinic }).count({ n: '*' }))[0].n);
    for (const ref of ['Patient?identifier=urn:mrn|NOBODY', 'Patient?identifier=urn:mrn|DUP']) {
      const res = await transaction(a.auth, [
        { resource: identified('NEW'), request: { method: 'POST', url: 'Patient' } },
        apptEntry(ref),
      ]);
      expect(res.status, `${ref}: ${res.text.slice(0, 300)}`).to.equal(412);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    }
    expect(Number((await (await admin())('appointment').where({ clinic_id: a.clinic }).count({ n: '*' }))[0].n)).to.equal(before);
    expect(Number((await (await admin())('patient').where({ clinic_id: a.clinic }).count({ n: '*' }))[0].n)).to.equal(beforePatients);
  });

  it('a conditional reference with an unknown search parameter or type is a 400', async () => {
    const a = await actor('doctor');
    for (const ref of ['Patient?colour=blue', 'Spaceship?identifier=x|y']) {
      const res = await transaction(a.auth, [apptEntry(ref)]);
      expect(res.status, `${ref}: ${res.text.slice(0, 300)}`).to.equal(400);
    }
  });
});

describe('System history of documents', () => {
  it('hands out signed links for attachments, as type history does', async () => {
    const a = await actor('doctor');
    const patient = await newPatient(a.auth, 'Docs');
    await post(a.auth, 'DocumentReference', documentReferenceBody(patient));
    const res = await get(a.auth, '/fhir/_history');
    const doc = (res.body.entry as Array<{ resource?: { resourceType: string; content?: Array<{ attachment: { url?: string } }> } }>)
      .find((e) => e.resource?.resourceType === 'DocumentReference');
    expect(doc?.resource?.content?.[0].attachment.url).to.match(/^https?:\/\/.*X-Amz-Signature=/);
  });
});
