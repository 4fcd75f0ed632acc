import { expect } from 'chai';
import { actor, api, FHIR, patientBody } from '../helpers/server';

describe('Patient search', () => {
  let auth: Record<string, string>;
  const ids: Record<string, string> = {};

  before(async () => {
    ({ auth } = await actor('doctor'));
    const a = await api();
    const people = [
      ['zoe', patientBody('Müller', { name: [{ family: 'Müller', given: ['Zoë'] }], gender: 'female', birthDate: '1970-05-01', identifier: [{ system: 'urn:mrn', value: 'MRN-1' }] })],
      ['max', patientBody('Mullins', { name: [{ family: 'Mullins', given: ['Max'] }], gender: 'male', birthDate: '1985-12-31', identifier: [{ system: 'urn:mrn', value: 'MRN-2' }] })],
      ['kim', patientBody("O'Brien", { name: [{ family: "O'Brien", given: ['Kim'] }], gender: 'other', birthDate: '2001', identifier: [{ system: 'urn:other', value: 'MRN-1' }] })],
    ] as const;
    for (const [key, body] of people) {
      const res = await a.post('/fhir/Patient').set(auth).set('Content-Type', FHIR).send(JSON.stringify(body));
      expect(res.status, res.text).to.equal(201);
      ids[key] = res.body.id;
    }
  });

  async function find(q: string): Promise<string[]> {
    const res = await (await api()).get(`/fhir/Patient?${q}`).set(auth);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.type).to.equal('searchset');
    return (res.body.entry ?? []).filter((e: { search: { mode: string } }) => e.search.mode === 'match').map((e: { resource: { id: string } }) => e.resource.id).sort();
  }
  const sorted = (...keys: string[]) => keys.map((k) => ids[k]).sort();

  it('family is a case- and accent-insensitive starts-with; :exact and :contains too', async () => {
    expect(await find('family=mul')).to.deep.equal(sorted('zoe', 'max'));
    expect(await find('family=MULLER')).to.deep.equal(sorted('zoe'));
    expect(await find('family:exact=Müller')).to.deep.equal(sorted('zoe'));
    expect(await find('family:exact=muller')).to.deep.equal([]);
    expect(await find('family:contains=llin')).to.deep.equal(sorted('max'));
    expect(await find('given=zo')).to.deep.equal(sorted('zoe'));
    expect(await find('name=max')).to.deep.equal(sorted('max'));
  });

  it('quotes and SQL in values are data, not SQL', async () => {
    expect(await find(`family=${encodeURIComponent("O'Brien")}`)).to.deep.equal(sorted('kim'));
    expect(await find(`family=${encodeURIComponent("x' or '1'='1")}`)).to.deep.equal([]);
    expect(await find(`family=${encodeURIComponent('%')}`)).to.deep.equal([]);
    expect(await find(`identifier=${encodeURIComponent("'; drop table patient; --")}`)).to.deep.equal([]);
  });

  it('identifier matches by value or system|value; gender by code', async () => {
    expect(await find('identifier=MRN-1')).to.deep.equal(sorted('zoe', 'kim'));
    expect(await find(`identifier=${encodeURIComponent('urn:mrn|MRN-1')}`)).to.deep.equal(sorted('zoe'));
    expect(await find('gender=male')).to.deep.equal(sorted('max'));
    expect(await find('gender=male,other')).to.deep.equal(sorted('max', 'kim'));
    expect(await find('gender:not=female&family=mul')).to.deep.equal(sorted('max'));
  });

  it('birthdate honours eq, ge, le, gt and lt, with partial dates as ranges', async () => {
    expect(await find('birthdate=1970-05-01')).to.deep.equal(sorted('zoe'));
    expect(await find('birthdate=1970')).to.deep.equal(sorted('zoe'));
    expect(await find('birthdate=ge1985-12-31')).to.deep.equal(sorted('max', 'kim'));
    expect(await find('birthdate=gt1985-12-31')).to.deep.equal(sorted('kim'));
    expect(await find('birthdate=le1985-12-31')).to.deep.equal(sorted('zoe', 'max'));
    expect(await find('birthdate=lt1985')).to.deep.equal(sorted('zoe'));
    expect(await find('birthdate=2001-06-01')).to.deep.equal([]);
  });

  it('_id and _lastUpdated narrow the results', async () => {
    expect(await find(`_id=${ids.max}`)).to.deep.equal(sorted('max'));
    expect(await find(`_lastUpdated=gt2000-01-01&_id=${ids.zoe},${ids.kim}`)).to.deep.equal(sorted('zoe', 'kim'));
    expect(await find(`_lastUpdated=lt2000-01-01&_id=${ids.zoe}`)).to.deep.equal([]);
  });

  it('_count pages with a next link that works for this user and no other', async () => {
    const a = await api();
    const first = await a.get('/fhir/Patient?_count=2&_sort=birthdate').set(auth);
    expect(first.body.entry).to.have.length(2);
    const next = first.body.link.find((l: { relation: string }) => l.relation === 'next');
    expect(next, 'next link').to.exist;
    const path = new URL(next.url).pathname + new URL(next.url).search;
    const second = await a.get(path).set(auth);
    expect(second.status).to.equal(200);
    expect(second.body.entry).to.have.length(1);
    expect(second.body.entry[0].resource.id).to.equal(ids.kim);
    const other = await actor('doctor');
    const replay = await a.get(path).set(other.auth);
    expect(replay.status).to.equal(400);
    expect(replay.body.resourceType).to.equal('OperationOutcome');
  });

  for (const q of ['_count=abc', '_count=-1', '_count=100000', 'birthdate=notadate', 'birthdate=2023-02-30', 'gender:fuzzy=x', '_sort=gender', 'family=', 'family:missing=maybe']) {
    it(`a malformed search (${q}) gets 400`, async () => {
      const res = await (await api()).get(`/fhir/Patient?${q}`).set(auth);
      expect(res.status).to.equal(400);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    });
  }

  it('unknown parameters are refused with 400 by default, and ignored and reported only under Prefer: handling=lenient', async () => {
    const a = await api();
    const strict = await a.get('/fhir/Patient?colour=blue&family=mullins').set(auth);
    expect(strict.status).to.equal(400);
    expect(strict.body.issue[0].diagnostics).to.contain('colour');
    expect((await a.get('/fhir/Patient?colour=blue').set(auth).set('Prefer', 'handling=strict')).status).to.equal(400);
    const lenient = await a.get('/fhir/Patient?colour=blue&family=mullins').set(auth).set('Prefer', 'handling=lenient');
    expect(lenient.status).to.equal(200);
    const outcome = lenient.body.entry.find((e: { search: { mode: string } }) => e.search.mode === 'outcome');
    expect(outcome.resource.issue[0].diagnostics).to.contain('colour');
  });
});
