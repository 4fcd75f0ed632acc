import { expect } from 'chai';
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import { CHAIN_EXTENSION, HAS_EXTENSION } from '../../server/fhir/capability';
import { auditEvents } from '../helpers/audit';
import { appointmentBody, created, documentReferenceBody, medicationRequestBody } from '../helpers/resources';
import { actor, api, FHIR, patientBody } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;
type Interaction = NonNullable<CapabilityStatementRestResource['interaction']>[number]['code'];
const ALL_INTERACTIONS: Interaction[] = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];
const uniq = () => Math.random().toString(36).slice(2, 8);
// Valid for every parameter type we serve: a year (date), a string, a token code, a bare reference id.
const SAMPLE = '2020';

/** A fresh, valid resource of each writable type (AuditEvent is written by the server only). */
function bodyOf(type: string, patient: string): Record<string, unknown> {
  switch (type) {
    case 'Patient': return patientBody(`Conf${uniq()}`);
    case 'Practitioner': return { resourceType: 'Practitioner', name: [{ family: `Conf${uniq()}` }], active: true };
    case 'Appointment': return appointmentBody(patient);
    case 'MedicationRequest': return medicationRequestBody(patient);
    case 'DocumentReference': return documentReferenceBody(patient);
    default: throw new Error(`no sample body for ${type}`);
  }
}

/** A patch each type's profile accepts: a writable element every sample has. */
const PATCH: Record<string, unknown[]> = {
  Patient: [{ op: 'replace', path: '/gender', value: 'male' }],
  Practitioner: [{ op: 'replace', path: '/active', value: false }],
  Appointment: [{ op: 'replace', path: '/status', value: 'cancelled' }],
  MedicationRequest: [{ op: 'replace', path: '/status', value: 'on-hold' }],
  DocumentReference: [{ op: 'replace', path: '/status', value: 'superseded' }],
};

describe('Conformance: the CapabilityStatement is tried against the server, so it cannot lie', () => {
  let who: Actor;
  let cs: CapabilityStatement;
  let patient: string;

  before(async () => {
    who = await actor('clinic-admin');
    const res = await (await api()).get('/fhir/metadata');
    expect(res.status).to.equal(200);
    cs = JSON.parse(res.text) as CapabilityStatement;
    patient = await created(who.auth, 'Patient', patientBody(`Conf${uniq()}`));
  });

  const resources = () => cs.rest?.[0].resource ?? [];
  const get = async (path: string) => (await api()).get(path).set(who.auth);

  /** An id of `type` this actor can read: created for writable types, found for AuditEvent. */
  async function someId(type: string): Promise<string> {
    if (type !== 'AuditEvent') return created(who.auth, type, bodyOf(type, patient));
    const res = await get('/fhir/AuditEvent?_count=1');
    expect(res.body.entry?.length, res.text.slice(0, 200)).to.equal(1);
    return res.body.entry[0].resource.id as string;
  }

  it('declares patch, conditional read (If-None-Match and If-Modified-Since) and JSON Patch as a patch format', () => {
    expect(cs.patchFormat).to.deep.equal(['application/json-patch+json']);
    for (const r of resources()) {
      if (r.type !== 'AuditEvent') expect(r.interaction?.map((i) => i.code), r.type).to.include('patch');
      expect(r.conditionalRead, r.type).to.equal('full-support');
    }
  });

  it('every declared interaction of every type works, and every undeclared one is refused', async function () {
    this.timeout(120_000);
    const a = await api();
    for (const r of resources()) {
      const type = r.type;
      const declared = new Set(r.interaction?.map((i) => i.code));
      const id = await someId(type);
      const write = type !== 'AuditEvent' ? bodyOf(type, patient) : { resourceType: 'AuditEvent' };
      const tries: Record<Interaction, () => Promise<{ status: number; text: string }>> = {
        read: () => a.get(`/fhir/${type}/${id}`).set(who.auth),
        vread: () => a.get(`/fhir/${type}/${id}/_history/1`).set(who.auth),
        'history-instance': () => a.get(`/fhir/${type}/${id}/_history`).set(who.auth),
        'history-type': () => a.get(`/fhir/${type}/_history?_count=1`).set(who.auth),
        'search-type': () => a.get(`/fhir/${type}?_count=1`).set(who.auth),
        create: () => a.post(`/fhir/${type}`).set(who.auth).set('Content-Type', FHIR).send(JSON.stringify(write)),
        update: () => a.put(`/fhir/${type}/${id}`).set(who.auth).set('Content-Type', FHIR).send(JSON.stringify({ ...write, id })),
        patch: () => a.patch(`/fhir/${type}/${id}`).set(who.auth).set('Content-Type', 'application/json-patch+json').send(JSON.stringify(PATCH[type] ?? [])),
        delete: async () => a.delete(`/fhir/${type}/${type === 'AuditEvent' ? id : await someId(type)}`).set(who.auth),
      };
      for (const code of ALL_INTERACTIONS) {
        const res = await tries[code]();
        if (declared.has(code)) expect(res.status, `${type} ${code}: ${res.text.slice(0, 300)}`).to.be.oneOf([200, 201, 204]);
        else expect(res.status, `${type} ${code} is not declared`).to.be.oneOf([404, 405]);
      }
    }
  });

  it('conditional read as declared: If-None-Match with the current version answers 304', async () => {
    for (const r of resources().filter((x) => x.conditionalRead === 'not-match' || x.conditionalRead === 'full-support')) {
      const id = await someId(r.type);
      const first = await get(`/fhir/${r.type}/${id}`);
      expect(first.headers.etag, r.type).to.be.a('string');
      const again = await (await api()).get(`/fhir/${r.type}/${id}`).set(who.auth).set('If-None-Match', first.headers.etag);
      expect(again.status, r.type).to.equal(304);
    }
  });

  it('every declared search parameter, chain and _has form is accepted (the default is strict, so an unsupported one would be a 400)', async function () {
    this.timeout(120_000);
    let tried = 0;
    for (const r of resources()) {
      for (const p of r.searchParam ?? []) {
        if (p.name === '_has') continue;
        const res = await get(`/fhir/${r.type}?${p.name}=${SAMPLE}&_count=1`);
        expect(res.status, `${r.type}?${p.name}: ${res.text.slice(0, 300)}`).to.equal(200);
        for (const chain of (p.extension ?? []).filter((e) => e.url === CHAIN_EXTENSION).map((e) => e.valueString)) {
          const chained = await get(`/fhir/${r.type}?${p.name}.${chain}=${SAMPLE}&_count=1`);
          expect(chained.status, `${r.type}?${p.name}.${chain}: ${chained.text.slice(0, 300)}`).to.equal(200);
          tried++;
        }
      }
      for (const form of (r.extension ?? []).filter((e) => e.url === HAS_EXTENSION).map((e) => e.valueString)) {
        const res = await get(`/fhir/${r.type}?_has:${form}:_id=${SAMPLE}&_count=1`);
        expect(res.status, `${r.type}?_has:${form}: ${res.text.slice(0, 300)}`).to.equal(200);
        expect(r.searchParam?.map((p) => p.name), r.type).to.include('_has');
        tried++;
      }
    }
    expect(tried).to.be.greaterThan(20);
  });

  it('what is not declared is refused: an unlisted parameter, an unlisted chain, an unlisted _has form', async () => {
    for (const r of resources()) {
      expect((await get(`/fhir/${r.type}?not-a-parameter=${SAMPLE}`)).status, r.type).to.equal(400);
      for (const p of (r.searchParam ?? []).filter((x) => x.type === 'reference')) {
        const chains = (p.extension ?? []).filter((e) => e.url === CHAIN_EXTENSION);
        const res = await get(`/fhir/${r.type}?${p.name}.${chains.length ? 'not-a-parameter' : 'name'}=${SAMPLE}`);
        expect(res.status, `${r.type}?${p.name}.…`).to.equal(400);
      }
    }
    expect((await get('/fhir/Patient?_has:Practitioner:name:_id=1')).status).to.equal(400);
  });

  it('every declared _include and _revinclude value is accepted, and adds what it names', async () => {
    for (const r of resources()) {
      for (const [param, values] of [['_include', r.searchInclude], ['_revinclude', r.searchRevInclude]] as const) {
        for (const v of values ?? []) {
          const res = await get(`/fhir/${r.type}?${param}=${v}&_count=1`);
          expect(res.status, `${r.type}?${param}=${v}: ${res.text.slice(0, 300)}`).to.equal(200);
        }
      }
    }
    const appt = await created(who.auth, 'Appointment', appointmentBody(patient));
    const res = await get(`/fhir/Appointment?_id=${appt}&_include=Appointment:patient`);
    expect(res.body.entry.map((e: { search: { mode: string } }) => e.search.mode)).to.deep.equal(['match', 'include']);
  });

  it('every declared operation has a route that answers', async () => {
    const probe = async (path: string) => {
      const res = await get(path);
      // A POST-only system operation's name reads as a type on GET (404), so it is tried with POST too.
      return res.status === 405 || res.status === 404 ? (await api()).post(path).set(who.auth).set('Content-Type', FHIR).send('{"resourceType":"Parameters"}') : res;
    };
    for (const op of cs.rest?.[0].operation ?? []) {
      const res = await probe(`/fhir/$${op.name}`);
      expect(res.status, `$${op.name}`).to.not.be.oneOf([404, 405]);
    }
    for (const r of resources()) {
      for (const op of r.operation ?? []) {
        const type = await probe(`/fhir/${r.type}/$${op.name}`);
        const instance = await probe(`/fhir/${r.type}/${await someId(r.type)}/$${op.name}`);
        // A route answers (an operation may refuse the probe's bare call, e.g. $export without Prefer: respond-async).
        expect([type.status, instance.status].some((s) => s !== 404 && s !== 405), `${r.type} $${op.name}`).to.equal(true);
      }
    }
  });
});

describe('Content negotiation: JSON only, said plainly', () => {
  let who: Actor;
  before(async () => { who = await actor('clinic-admin'); });

  for (const accept of ['application/fhir+xml', 'application/xml', 'text/xml, application/fhir+xml;q=0.9', 'application/fhir+json;q=0, application/fhir+xml']) {
    it(`Accept: ${accept} gets 406 with a JSON OperationOutcome`, async () => {
      const res = await (await api()).get('/fhir/Patient?_count=1').set(who.auth).set('Accept', accept);
      expect(res.status).to.equal(406);
      expect(res.headers['content-type']).to.match(/^application\/fhir\+json/);
      expect(JSON.parse(res.text).resourceType).to.equal('OperationOutcome');
    });
  }

  it('_format=xml gets 406; GET /fhir/metadata with Accept: application/fhir+xml gets 406 too', async () => {
    expect((await (await api()).get('/fhir/Patient?_format=xml').set(who.auth)).status).to.equal(406);
    expect((await (await api()).get('/fhir/Patient?_format=application/fhir%2Bxml').set(who.auth)).status).to.equal(406);
    expect((await (await api()).get('/fhir/metadata').set('Accept', 'application/fhir+xml')).status).to.equal(406);
  });

  it('JSON in any of its names, a wildcard, or XML preferred but JSON allowed, gets 200 JSON', async () => {
    for (const accept of ['application/fhir+json', 'application/json', 'application/json+fhir', '*/*', 'application/*', 'application/fhir+xml, application/fhir+json;q=0.5', 'text/html,application/xhtml+xml,*/*;q=0.8']) {
      const res = await (await api()).get('/fhir/Patient?_count=1').set(who.auth).set('Accept', accept);
      expect(res.status, accept).to.equal(200);
    }
    expect((await (await api()).get('/fhir/Patient?_count=1&_format=json').set(who.auth)).status).to.equal(200);
  });

  it('a refused Accept is audited once as a refusal of that caller', async () => {
    const caller = await actor('clinic-admin');
    expect((await (await api()).get('/fhir/Patient').set(caller.auth).set('Accept', 'application/fhir+xml')).status).to.equal(406);
    const events = await auditEvents((q) => q.where({ user_id: caller.user }));
    expect(events.map((e) => e.outcome)).to.deep.equal(['4']);
  });

  it('an XML body (Content-Type application/fhir+xml) gets 415 and nothing is created', async () => {
    const family = `Xml${uniq()}`;
    const xml = `<Patient xmlns="http://hl7.org/fhir"><name><family value="${family}"/></name></Patient>`;
    const a = await api();
    const posted = await a.post('/fhir/Patient').set(who.auth).set('Content-Type', 'application/fhir+xml').send(xml);
    expect(posted.status).to.equal(415);
    expect(posted.body.resourceType).to.equal('OperationOutcome');
    const id = await created(who.auth, 'Patient', patientBody(`Json${family}`));
    const put = await a.put(`/fhir/Patient/${id}`).set(who.auth).set('Content-Type', 'application/xml').send(xml);
    expect(put.status).to.equal(415);
    const found = await a.get(`/fhir/Patient?family=${family}`).set(who.auth);
    expect(found.body.entry ?? []).to.deep.equal([]);
    expect((await a.get(`/fhir/Patient/${id}`).set(who.auth)).body.meta.versionId).to.equal('1');
  });

  it('a profile violation gets 422, a resource that is not valid FHIR gets 400', async () => {
    const a = await api();
    const send = (body: object) => a.post('/fhir/Practitioner').set(who.auth).set('Content-Type', FHIR).send(JSON.stringify(body));
    const unnamed = await send({ resourceType: 'Practitioner', active: true }); // valid R4; our profile requires a name
    expect(unnamed.status, unnamed.text).to.equal(422);
    expect(unnamed.text).to.contain('clinic-practitioner');
    const invalid = await send({ resourceType: 'Practitioner', name: [{ family: 'X' }], active: 'yes' });
    expect(invalid.status).to.equal(400);
  });
});

describe('_count=0', () => {
  it('answers the total and no entries, and no next link a client would follow forever', async () => {
    const who = await actor('clinic-admin');
    const family = `Zero${uniq()}`;
    for (let i = 0; i < 3; i++) await created(who.auth, 'Patient', patientBody(family));
    const res = await (await api()).get(`/fhir/Patient?family=${family}&_count=0`).set(who.auth);
    expect(res.status).to.equal(200);
    expect(res.body.type).to.equal('searchset');
    expect(res.body.total).to.equal(3);
    expect(res.body.entry ?? []).to.deep.equal([]);
    expect(res.body.link.map((l: { relation: string }) => l.relation)).to.deep.equal(['self']);
    const page = await (await api()).get(`/fhir/Patient?family=${family}&_count=2`).set(who.auth);
    expect(page.body.link.map((l: { relation: string }) => l.relation)).to.deep.equal(['self', 'next']);
  });
});
