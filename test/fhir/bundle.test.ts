import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { auditOf } from '../helpers/audit';
import { appointmentBody, medicationRequestBody } from '../helpers/resources';
import { actor, api, FHIR, patientBody } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;
type Entry = { fullUrl?: string; resource?: Record<string, unknown>; request: { method: string; url: string; ifNoneExist?: string; ifMatch?: string } };
type ResponseEntry = { fullUrl?: string; resource?: { id: string; resourceType: string } & Record<string, unknown>; response: { status: string; location?: string; etag?: string; outcome?: { issue: Array<{ diagnostics: string }> } } };

const uniq = () => Math.random().toString(36).slice(2, 10);
const urn = () => `urn:uuid:${randomUUID()}`;

describe('batch and transaction Bundles at POST /fhir', () => {
  let doc: Actor;
  before(async () => { doc = await actor('doctor'); });

  const send = async (who: Actor, type: string, entry: Entry[], headers: Record<string, string> = {}) =>
    (await api()).post('/fhir').set(who.auth).set('Content-Type', FHIR).set(headers).send(JSON.stringify({ resourceType: 'Bundle', type, entry }));
  const count = async (who: Actor, type: string, q: string): Promise<number> => {
    const res = await (await api()).get(`/fhir/${type}?${q}&_summary=count`).set(who.auth);
    expect(res.status, res.text).to.equal(200);
    return res.body.total as number;
  };

  describe('transaction', () => {
    it('creates a Patient and an Appointment that refers to it by urn:uuid, whatever the entry order', async () => {
      const p = urn();
      const family = `Tx${uniq()}`;
      const res = await send(doc, 'transaction', [
        { fullUrl: urn(), resource: appointmentBody('placeholder', { participant: [{ actor: { reference: p }, status: 'accepted' }] }), request: { method: 'POST', url: 'Appointment' } },
        { fullUrl: p, resource: patientBody(family), request: { method: 'POST', url: 'Patient' } },
      ]);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.type).to.equal('transaction-response');
      const [appt, patient] = res.body.entry as ResponseEntry[];
      expect(appt.response.status).to.match(/^201/);
      expect(patient.response.status).to.match(/^201/);
      expect(patient.response.location).to.match(/\/Patient\/[0-9a-f-]{36}\/_history\/1$/);
      expect(patient.resource?.id).to.be.a('string');
      const stored = await (await api()).get(`/fhir/Appointment/${appt.resource?.id}`).set(doc.auth);
      expect(stored.body.participant[0].actor.reference).to.equal(`Patient/${patient.resource?.id}`);
    });

    it('a transaction that fails half-way writes nothing and names the failing entry', async () => {
      const family = `Half${uniq()}`;
      const res = await send(doc, 'transaction', [
        { fullUrl: urn(), resource: patientBody(family), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: urn(), resource: patientBody(family), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: urn(), resource: patientBody(family, { gender: 'x' }), request: { method: 'POST', url: 'Patient' } },
      ]);
      expect(res.status).to.equal(400);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      expect(JSON.stringify(res.body.issue)).to.contain('Bundle.entry[2]').and.to.contain('Patient.gender');
      expect(await count(doc, 'Patient', `family=${family}`)).to.equal(0);
    });

    it('a failing PUT after a DELETE and a POST rolls back the delete and the create too', async () => {
      const family = `Roll${uniq()}`;
      const victim = (await (await api()).post('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody(family)))).body;
      const res = await send(doc, 'transaction', [
        { resource: { ...patientBody(family), id: victim.id }, request: { method: 'PUT', url: `Patient/${victim.id}`, ifMatch: 'W/"9"' } },
        { request: { method: 'DELETE', url: `Patient/${victim.id}` } },
        { fullUrl: urn(), resource: patientBody(family), request: { method: 'POST', url: 'Patient' } },
      ]);
      expect(res.status).to.equal(412);
      const read = await (await api()).get(`/fhir/Patient/${victim.id}`).set(doc.auth);
      expect(read.status).to.equal(200);
      expect(read.body.meta.versionId).to.equal('1');
      expect(await count(doc, 'Patient', `family=${family}`)).to.equal(1);
    });

    it('a transaction entry the role may not perform refuses the whole transaction and is audited', async () => {
      const desk = await actor('front-desk', 'user/*.cruds', doc.clinic);
      const family = `Desk${uniq()}`;
      const p = urn();
      const res = await send(desk, 'transaction', [
        { fullUrl: p, resource: patientBody(family), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: urn(), resource: medicationRequestBody('x', { subject: { reference: p } }), request: { method: 'POST', url: 'MedicationRequest' } },
      ]);
      expect(res.status).to.equal(403);
      expect(res.body.issue[0].diagnostics).to.contain('Bundle.entry[1]').and.to.contain('MedicationRequest');
      expect(await count(doc, 'Patient', `family=${family}`)).to.equal(0);
      const events = await auditOf(desk.user);
      expect(events.map((e) => `${e.subtype}:${e.outcome}`).sort()).to.deep.equal(['create:4', 'transaction:4']);
      expect(events.find((e) => e.subtype === 'create')?.entity).to.contain('MedicationRequest');
    });

    it('each entry is audited like a standalone interaction, plus one AuditEvent for the transaction', async () => {
      const who = await actor('doctor', 'user/*.cruds', doc.clinic);
      const res = await send(who, 'transaction', [
        { fullUrl: urn(), resource: patientBody(`Aud${uniq()}`), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient?_count=1' } },
      ]);
      expect(res.status, res.text).to.equal(200);
      const events = await auditOf(who.user);
      expect(events.map((e) => `${e.subtype}:${e.action}:${e.outcome}`).sort()).to.deep.equal(['create:C:0', 'search-type:E:0', 'transaction:E:0']);
    });

    it('If-None-Exist inside a transaction resolves the urn:uuid to the existing resource', async () => {
      const mrn = uniq();
      const existing = (await (await api()).post('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR)
        .send(JSON.stringify(patientBody('Known', { identifier: [{ system: 'urn:mrn', value: mrn }] })))).body;
      const p = urn();
      const res = await send(doc, 'transaction', [
        { fullUrl: p, resource: patientBody('Known'), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=urn:mrn|${mrn}` } },
        { fullUrl: urn(), resource: appointmentBody('x', { participant: [{ actor: { reference: p }, status: 'accepted' }] }), request: { method: 'POST', url: 'Appointment' } },
      ]);
      expect(res.status, res.text).to.equal(200);
      const [pat, appt] = res.body.entry as ResponseEntry[];
      expect(pat.response.status).to.match(/^200/);
      expect(pat.resource?.id).to.equal(existing.id);
      expect((appt.resource?.participant as Array<{ actor: { reference: string } }>)[0].actor.reference).to.equal(`Patient/${existing.id}`);
    });

    it('runs PUT, PATCH (a Binary JSON Patch), conditional DELETE and GET entries, answering in Bundle order', async () => {
      const family = `Mix${uniq()}`;
      const a = (await (await api()).post('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody(family)))).body;
      const b = (await (await api()).post('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody(family, { identifier: [{ system: 'urn:mrn', value: `gone-${family}` }] })))).body;
      const patch = Buffer.from(JSON.stringify([{ op: 'replace', path: '/gender', value: 'other' }])).toString('base64');
      const res = await send(doc, 'transaction', [
        { request: { method: 'GET', url: `Patient?family=${family}` } },
        { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Patient/${a.id}` } },
        { request: { method: 'DELETE', url: `Patient?identifier=urn:mrn|gone-${family}` } },
        { resource: { ...patientBody(family, { birthDate: '1990-01-01' }), id: a.id }, request: { method: 'PUT', url: `Patient/${a.id}` } },
      ]);
      expect(res.status, res.text).to.equal(200);
      const [get, patched, deleted, put] = res.body.entry as ResponseEntry[];
      expect(deleted.response.status).to.match(/^204/);
      // FHIR order: DELETE, then PUT/PATCH in Bundle order, then GET sees the result.
      expect(patched.response.status).to.match(/^200/);
      expect(put.response.status).to.match(/^200/);
      expect(put.resource?.meta).to.deep.include({ versionId: '3' });
      const found = (get.resource as unknown as { entry: Array<{ resource: { id: string; gender: string } }> }).entry;
      expect(found.map((e) => e.resource.id)).to.deep.equal([a.id]);
      expect((await (await api()).get(`/fhir/Patient/${b.id}`).set(doc.auth)).status).to.equal(410);
    });

    it('a patch entry that breaks the resource is a 4xx naming the problem, and nothing is written', async () => {
      const family = `Brk${uniq()}`;
      const a = (await (await api()).post('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody(family)))).body;
      const patch = Buffer.from(JSON.stringify([{ op: 'replace', path: '/gender', value: 'x' }])).toString('base64');
      const res = await send(doc, 'transaction', [
        { fullUrl: urn(), resource: patientBody(family), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Patient/${a.id}` } },
      ]);
      expect(res.status).to.equal(422);
      expect(JSON.stringify(res.body.issue)).to.contain('Patient.gender');
      expect(await count(doc, 'Patient', `family=${family}`)).to.equal(1);
    });

    it('Prefer: return=minimal leaves the resources out of the response', async () => {
      const res = await send(doc, 'transaction', [{ fullUrl: urn(), resource: patientBody(`Min${uniq()}`), request: { method: 'POST', url: 'Patient' } }], { Prefer: 'return=minimal' });
      expect(res.status).to.equal(200);
      const [e] = res.body.entry as ResponseEntry[];
      expect(e.resource).to.equal(undefined);
      expect(e.response.location).to.match(/\/Patient\//);
      expect(e.response.etag).to.equal('W/"1"');
    });

    for (const [what, entries, detail] of [
      ['circular urn:uuid references', (a: string, b: string) => [
        { fullUrl: a, resource: patientBody('Ca', { link: [{ other: { reference: b }, type: 'seealso' }] }), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: b, resource: patientBody('Cb', { link: [{ other: { reference: a }, type: 'seealso' }] }), request: { method: 'POST', url: 'Patient' } },
      ], 'circular'],
      ['an entry that refers to itself', (a: string) => [
        { fullUrl: a, resource: patientBody('Self', { link: [{ other: { reference: a }, type: 'seealso' }] }), request: { method: 'POST', url: 'Patient' } },
      ], 'circular'],
      ['a urn:uuid that no entry creates', (a: string, b: string) => [
        { fullUrl: a, resource: patientBody('Dangling', { link: [{ other: { reference: b }, type: 'seealso' }] }), request: { method: 'POST', url: 'Patient' } },
      ], 'names no entry'],
    ] as const) {
      it(`${what} is a 400 before anything is written`, async () => {
        const before = await count(doc, 'Patient', '_lastUpdated=gt2000-01-01');
        const res = await send(doc, 'transaction', entries(urn(), urn()) as Entry[]);
        expect(res.status, res.text).to.equal(400);
        expect(res.body.issue[0].diagnostics).to.contain(detail);
        expect(await count(doc, 'Patient', '_lastUpdated=gt2000-01-01')).to.equal(before);
      });
    }
  });

  describe('batch', () => {
    it('answers each entry on its own: a failing entry leaves the others written', async () => {
      const family = `Bat${uniq()}`;
      const res = await send(doc, 'batch', [
        { resource: patientBody(family), request: { method: 'POST', url: 'Patient' } },
        { resource: patientBody(family, { gender: 'x' }), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/2b0c4b1e-1111-4111-8111-111111111111' } },
        { request: { method: 'GET', url: 'Spaceship/1' } },
        { resource: patientBody(family), request: { method: 'POST', url: 'AuditEvent' } },
      ]);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.type).to.equal('batch-response');
      const statuses = (res.body.entry as ResponseEntry[]).map((e) => e.response.status.slice(0, 3));
      expect(statuses).to.deep.equal(['201', '400', '404', '404', '405']);
      expect((res.body.entry as ResponseEntry[])[1].response.outcome?.issue[0].diagnostics).to.contain('Patient.gender');
      expect(await count(doc, 'Patient', `family=${family}`)).to.equal(1);
    });

    it('a refused entry is a 403 in its slot, audited, while the rest of the batch runs', async () => {
      const desk = await actor('front-desk', 'user/*.cruds', doc.clinic);
      const family = `Bd${uniq()}`;
      const res = await send(desk, 'batch', [
        { resource: patientBody(family), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'MedicationRequest?_count=1' } },
      ]);
      expect((res.body.entry as ResponseEntry[]).map((e) => e.response.status.slice(0, 3))).to.deep.equal(['201', '403']);
      const events = await auditOf(desk.user);
      expect(events.map((e) => `${e.subtype}:${e.outcome}`).sort()).to.deep.equal(['batch:0', 'create:0', 'search-type:4']);
    });

    it('refuses references between its own entries (that needs a transaction)', async () => {
      const p = urn();
      const res = await send(doc, 'batch', [
        { fullUrl: p, resource: patientBody('Ref'), request: { method: 'POST', url: 'Patient' } },
        { resource: patientBody('Ref2', { link: [{ other: { reference: p }, type: 'seealso' }] }), request: { method: 'POST', url: 'Patient' } },
      ]);
      expect((res.body.entry as ResponseEntry[]).map((e) => e.response.status.slice(0, 3))).to.deep.equal(['201', '400']);
    });
  });

  describe('bad Bundles get a 4xx OperationOutcome naming the problem, and change nothing', () => {
    const raw = async (body: string, type = FHIR) => (await api()).post('/fhir').set(doc.auth).set('Content-Type', type).send(body);
    const bundle = (b: Record<string, unknown>) => JSON.stringify({ resourceType: 'Bundle', ...b });
    const entry = { resource: patientBody('Never'), request: { method: 'POST', url: 'Patient' } };
    for (const [what, body, status, says, type] of [
      ['a Bundle of type collection', bundle({ type: 'collection', entry: [entry] }), 400, 'Bundle.type', FHIR],
      ['an entry without request', bundle({ type: 'transaction', entry: [entry, { resource: patientBody('Never') }] }), 400, 'Bundle.entry[1] has no request', FHIR],
      ['an unknown method', bundle({ type: 'batch', entry: [{ ...entry, request: { method: 'HEAD', url: 'Patient' } }] }), 400, 'request.method', FHIR],
      ['a nested Bundle', bundle({ type: 'transaction', entry: [{ resource: { resourceType: 'Bundle', type: 'collection' }, request: { method: 'POST', url: 'Patient' } }] }), 400, 'nested', FHIR],
      ['an unknown resource type', bundle({ type: 'transaction', entry: [entry, { request: { method: 'GET', url: 'Spaceship/1' } }] }), 404, 'Spaceship', FHIR],
      ['a URL on another server', bundle({ type: 'transaction', entry: [{ ...entry, request: { method: 'POST', url: 'https://elsewhere.example/fhir/Patient' } }] }), 400, 'relative', FHIR],
      ['a resource that is not a Bundle', JSON.stringify(patientBody('Never')), 400, 'Bundle', FHIR],
      ['malformed JSON', '{"resourceType":"Bundle",', 400, 'JSON', FHIR],
      ['a wrong content type', bundle({ type: 'transaction', entry: [entry] }), 415, 'Content-Type', 'text/plain'],
    ] as const) {
      it(`${what}: ${status}`, async () => {
        const before = await count(doc, 'Patient', 'family=never');
        const res = await raw(body, type);
        expect(res.status, res.text).to.equal(status);
        expect(res.body.resourceType).to.equal('OperationOutcome');
        expect(JSON.stringify(res.body.issue)).to.contain(says);
        expect(await count(doc, 'Patient', 'family=never')).to.equal(before);
      });
    }

    it('a Bundle of 10 000 entries is refused quickly with 413, before any entry runs', async () => {
      const small = { request: { method: 'GET', url: 'Patient' } };
      const body = JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 10_000 }, () => small) });
      const started = Date.now();
      const res = await raw(body);
      expect(res.status).to.equal(413);
      expect(res.body.issue[0].diagnostics).to.contain('10000 entries');
      expect(Date.now() - started).to.be.below(2000);
    });

    it('a refused Bundle is audited as a failed transaction', async () => {
      const who = await actor('doctor', 'user/*.cruds', doc.clinic);
      await (await api()).post('/fhir').set(who.auth).set('Content-Type', FHIR).send(bundle({ type: 'transaction', entry: [{ resource: patientBody('Never') }] }));
      expect((await auditOf(who.user)).map((e) => `${e.subtype}:${e.outcome}`)).to.deep.equal(['transaction:4']);
    });
  });
});
