import { expect } from 'chai';
import { actor, api, FHIR, patientBody } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;
type Entry = { resource: { id: string } & Record<string, unknown>; search: { mode: string } };
const FORM = 'application/x-www-form-urlencoded';

describe('Search controls, POST _search and Prefer', () => {
  let doc: Actor;
  let family: string;
  const ids: string[] = [];

  before(async () => {
    doc = await actor('doctor');
    family = `Ctl${Math.random().toString(36).slice(2, 8)}`;
    for (const [given, birthDate] of [['Ann', '1970-01-01'], ['Bea', '1980-01-01'], ['Cid', '1990-01-01']]) {
      const res = await (await api()).post('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR)
        .send(JSON.stringify(patientBody(family, { name: [{ family, given: [given] }], birthDate })));
      expect(res.status, res.text).to.equal(201);
      ids.push(res.body.id);
    }
  });

  const get = async (q: string) => {
    const res = await (await api()).get(`/fhir/Patient?family=${family}&${q}`).set(doc.auth);
    expect(res.status, res.text).to.equal(200);
    return res.body as { total?: number; entry?: Entry[]; link: Array<{ relation: string; url: string }> };
  };
  const matchIds = (b: { entry?: Entry[] }) => (b.entry ?? []).filter((e) => e.search.mode === 'match').map((e) => e.resource.id);

  it('_summary=count answers the total and no entries', async () => {
    const b = await get('_summary=count');
    expect(b.total).to.equal(3);
    expect(b.entry).to.equal(undefined);
  });

  it('_total=accurate adds the total; _total=none leaves it out', async () => {
    expect((await get('_total=accurate&_count=1')).total).to.equal(3);
    expect((await get('_total=none')).total).to.equal(undefined);
  });

  it('_elements keeps only the named elements and marks the resource SUBSETTED', async () => {
    const [e] = (await get('_elements=birthDate&_count=1')).entry ?? [];
    expect(Object.keys(e.resource).sort()).to.deep.equal(['birthDate', 'id', 'meta', 'resourceType']);
    expect(JSON.stringify(e.resource.meta)).to.contain('SUBSETTED');
  });

  it('_sort orders by a date ascending or descending, and by a string', async () => {
    expect(matchIds(await get('_sort=birthdate'))).to.deep.equal(ids);
    expect(matchIds(await get('_sort=-birthdate'))).to.deep.equal([...ids].reverse());
    expect(matchIds(await get('_sort=given'))).to.deep.equal(ids);
  });

  it('page 2 has a previous link back to page 1 and a next link on to page 3', async () => {
    const first = await get('_sort=birthdate&_count=1');
    expect(first.link.map((l) => l.relation)).to.deep.equal(['self', 'next']);
    const path = (u: string) => new URL(u).pathname + new URL(u).search;
    const second = (await (await api()).get(path(first.link[1].url)).set(doc.auth)).body;
    expect(matchIds(second)).to.deep.equal([ids[1]]);
    const rel = (b: typeof second, r: string) => b.link.find((l: { relation: string }) => l.relation === r).url;
    const back = (await (await api()).get(path(rel(second, 'previous'))).set(doc.auth)).body;
    expect(matchIds(back)).to.deep.equal([ids[0]]);
    const third = (await (await api()).get(path(rel(second, 'next'))).set(doc.auth)).body;
    expect(matchIds(third)).to.deep.equal([ids[2]]);
  });

  it('POST [type]/_search with a form body finds what GET finds, with paging', async () => {
    const res = await (await api()).post('/fhir/Patient/_search').set(doc.auth).set('Content-Type', FORM)
      .send(`family=${family}&birthdate=ge1980&_sort=birthdate`);
    expect(res.status, res.text).to.equal(200);
    expect(matchIds(res.body)).to.deep.equal([ids[1], ids[2]]);
    const mixed = await (await api()).post(`/fhir/Patient/_search?family=${family}`).set(doc.auth).set('Content-Type', FORM).send('_count=1&_sort=birthdate');
    expect(matchIds(mixed.body)).to.deep.equal([ids[0]]);
    const next = mixed.body.link.find((l: { relation: string }) => l.relation === 'next');
    const page2 = await (await api()).get(new URL(next.url).pathname + new URL(next.url).search).set(doc.auth);
    expect(matchIds(page2.body)).to.deep.equal([ids[1]]);
  });

  it('POST _search with a body that is not a form is a 415 OperationOutcome', async () => {
    const res = await (await api()).post('/fhir/Patient/_search').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify({ family }));
    expect(res.status).to.equal(415);
    expect(res.body.resourceType).to.equal('OperationOutcome');
  });

  describe('Prefer: return on create and update', () => {
    const write = async (prefer: string | undefined, id?: string) => {
      const a = await api();
      const req = id ? a.put(`/fhir/Patient/${id}`) : a.post('/fhir/Patient');
      req.set(doc.auth).set('Content-Type', FHIR);
      if (prefer) req.set('Prefer', prefer);
      return req.send(JSON.stringify({ ...patientBody('Pref'), ...(id ? { id } : {}) }));
    };

    it('return=minimal: no body, but Location and ETag', async () => {
      const res = await write('return=minimal');
      expect(res.status).to.equal(201);
      expect(res.text).to.equal('');
      expect(res.headers.location).to.match(/\/Patient\/[0-9a-f-]{36}\/_history\/1$/);
      expect(res.headers.etag).to.equal('W/"1"');
      const id = res.headers.location.split('/').slice(-3)[0];
      const upd = await write('return=minimal', id);
      expect(upd.status).to.equal(200);
      expect(upd.text).to.equal('');
      expect(upd.headers.etag).to.equal('W/"2"');
    });

    it('return=OperationOutcome: an OperationOutcome saying what was stored', async () => {
      const res = await write('return=OperationOutcome');
      expect(res.status).to.equal(201);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      expect(res.body.issue[0].diagnostics).to.match(/Patient\/[0-9a-f-]{36} version 1 stored/);
    });

    it('return=representation (and no Prefer): the stored resource', async () => {
      for (const prefer of ['return=representation', undefined]) {
        const res = await write(prefer);
        expect(res.status).to.equal(201);
        expect(res.body.resourceType).to.equal('Patient');
        expect(res.body.meta.versionId).to.equal('1');
        const upd = await write(prefer, res.body.id);
        expect(upd.body.resourceType).to.equal('Patient');
        expect(upd.body.meta.versionId).to.equal('2');
      }
    });
  });
});
