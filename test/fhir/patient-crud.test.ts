import { expect } from 'chai';
import { actor, api, FHIR, patientBody } from '../helpers/server';

describe('Patient over FHIR REST', () => {
  let auth: Record<string, string>;
  before(async () => { ({ auth } = await actor('doctor')); });

  async function create(body: object = patientBody()) {
    const res = await (await api()).post('/fhir/Patient').set(auth).set('Content-Type', FHIR).send(JSON.stringify(body));
    expect(res.status, res.text).to.equal(201);
    return res;
  }

  it('create answers 201 with Location, ETag and the stored resource', async () => {
    const res = await create();
    expect(res.headers.location).to.match(/\/fhir\/Patient\/[0-9a-f-]{36}\/_history\/1$/);
    expect(res.headers.etag).to.equal('W/"1"');
    expect(res.headers['content-type']).to.match(/application\/fhir\+json/);
    expect(res.body.resourceType).to.equal('Patient');
    expect(res.body.meta.versionId).to.equal('1');
    expect(res.body.name[0].family).to.equal('Smith');
  });

  it('read, vread and update with If-Match; a stale If-Match gets 412 and changes nothing', async () => {
    const { body: p } = await create();
    const a = await api();
    const read = await a.get(`/fhir/Patient/${p.id}`).set(auth);
    expect(read.status).to.equal(200);
    expect(read.body.id).to.equal(p.id);
    const upd = await a.put(`/fhir/Patient/${p.id}`).set(auth).set('Content-Type', FHIR).set('If-Match', 'W/"1"')
      .send(JSON.stringify({ ...patientBody('Jones'), id: p.id }));
    expect(upd.status, upd.text).to.equal(200);
    expect(upd.body.meta.versionId).to.equal('2');
    const stale = await a.put(`/fhir/Patient/${p.id}`).set(auth).set('Content-Type', FHIR).set('If-Match', 'W/"1"')
      .send(JSON.stringify({ ...patientBody('Brown'), id: p.id }));
    expect(stale.status).to.equal(412);
    expect(stale.body.resourceType).to.equal('OperationOutcome');
    const v1 = await a.get(`/fhir/Patient/${p.id}/_history/1`).set(auth);
    expect(v1.body.name[0].family).to.equal('Smith');
    const now = await a.get(`/fhir/Patient/${p.id}`).set(auth);
    expect(now.body.name[0].family).to.equal('Jones');
    const cached = await a.get(`/fhir/Patient/${p.id}`).set(auth).set('If-None-Match', 'W/"2"');
    expect(cached.status).to.equal(304);
  });

  it('delete is logical: a later read gives 410 and history keeps every version', async () => {
    const { body: p } = await create();
    const a = await api();
    expect((await a.delete(`/fhir/Patient/${p.id}`).set(auth)).status).to.equal(204);
    const gone = await a.get(`/fhir/Patient/${p.id}`).set(auth);
    expect(gone.status).to.equal(410);
    expect(gone.body.resourceType).to.equal('OperationOutcome');
    const hist = await a.get(`/fhir/Patient/${p.id}/_history`).set(auth);
    expect(hist.status).to.equal(200);
    expect(hist.body.type).to.equal('history');
    expect(hist.body.entry).to.have.length(2);
    expect(hist.body.entry[0].request.method).to.equal('DELETE');
    const search = await a.get(`/fhir/Patient?_id=${p.id}`).set(auth);
    expect(search.body.entry ?? []).to.have.length(0);
  });

  it('an id in the body that differs from the URL is refused and nothing changes', async () => {
    const { body: p } = await create();
    const res = await (await api()).put(`/fhir/Patient/${p.id}`).set(auth).set('Content-Type', FHIR)
      .send(JSON.stringify({ ...patientBody('Other'), id: '0b3f6a51-0000-4000-8000-000000000000' }));
    expect(res.status).to.equal(400);
    const after = await (await api()).get(`/fhir/Patient/${p.id}`).set(auth);
    expect(after.body.meta.versionId).to.equal('1');
  });

  for (const [what, body, type, status] of [
    ['malformed JSON', '{"resourceType": "Patient",', FHIR, 400],
    ['a body that is not a Patient', JSON.stringify({ resourceType: 'Observation', status: 'final' }), FHIR, 400],
    ['an array', '[]', FHIR, 400],
    ['an invalid gender', JSON.stringify(patientBody('X', { gender: 'x' })), FHIR, 400],
    ['an unknown element', JSON.stringify(patientBody('X', { favouriteColour: 'blue' })), FHIR, 400],
    ['an impossible birth date', JSON.stringify(patientBody('X', { birthDate: '2023-02-30' })), FHIR, 400],
    ['a wrong content type', JSON.stringify(patientBody()), 'text/plain', 415],
    ['an over-large body', JSON.stringify(patientBody('X', { text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'a'.repeat(1_100_000)}</div>` } })), FHIR, 413],
  ] as const) {
    it(`${what} gets a ${status} OperationOutcome and writes nothing`, async () => {
      const a = await api();
      const before = await a.get('/fhir/Patient?_summary=count').set(auth);
      const res = await a.post('/fhir/Patient').set(auth).set('Content-Type', type).send(body);
      expect(res.status, res.text.slice(0, 300)).to.equal(status);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      const after = await a.get('/fhir/Patient?_summary=count').set(auth);
      expect(after.body.total).to.equal(before.body.total);
    });
  }

  it('an invalid gender is reported at Patient.gender', async () => {
    const res = await (await api()).post('/fhir/Patient').set(auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('X', { gender: 'x' })));
    expect(JSON.stringify(res.body.issue)).to.contain('Patient.gender');
  });

  it('unknown ids get 404, malformed ids 400, and unknown types 404', async () => {
    const a = await api();
    expect((await a.get('/fhir/Patient/2b0c4b1e-1111-4111-8111-111111111111').set(auth)).status).to.equal(404);
    expect((await a.get('/fhir/Patient/example').set(auth)).status).to.equal(404);
    expect((await a.get('/fhir/Patient/bad$id').set(auth)).status).to.equal(400);
    const t = await a.get('/fhir/Spaceship/1').set(auth);
    expect(t.status).to.equal(404);
    expect(t.body.resourceType).to.equal('OperationOutcome');
  });
});
