import { expect } from 'chai';
import { actor, admin, api, FHIR, patientBody } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;
type Bundle = { entry?: Array<{ resource: { id: string; meta: { lastUpdated: string } }; search: { mode: string } }>; link: Array<{ relation: string; url: string }> };

/**
 * Pages of a search in the default order, where the page is picked on the index first (pagedSearch):
 * every match exactly once across the pages, newest first, nothing deleted or of another clinic,
 * whatever mix of index-served and other criteria.
 */
describe('Search pages in the default order', () => {
  let doc: Actor;
  let other: Actor;
  let family: string;
  const live: string[] = []; // newest last
  let twoNames: string;
  let deleted: string;

  const create = async (who: Actor, body: object) => {
    const res = await (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR).send(JSON.stringify(body));
    expect(res.status, res.text).to.equal(201);
    return res.body.id as string;
  };

  before(async () => {
    doc = await actor('doctor');
    other = await actor('doctor');
    family = `Pg${Math.random().toString(36).slice(2, 8)}`;
    for (let i = 0; i < 7; i++) {
      const gender = i % 2 ? 'female' : 'male';
      live.push(await create(doc, patientBody(family, { name: [{ family, given: [`G${i}`] }], gender })));
    }
    // Two names that both match the prefix: still one match.
    twoNames = await create(doc, patientBody(family, { name: [{ family, given: ['A'] }, { family: `${family}son`, given: ['B'] }], gender: 'male' }));
    live.push(twoNames);
    deleted = await create(doc, patientBody(family, { name: [{ family, given: ['Gone'] }] }));
    expect((await (await api()).delete(`/fhir/Patient/${deleted}`).set(doc.auth)).status).to.equal(204);
    // Same family in another clinic.
    await create(other, patientBody(family, { name: [{ family, given: ['Elsewhere'] }] }));
    // An update moves a patient to the front of the default order.
    const first = live.shift() as string;
    const upd = await (await api()).put(`/fhir/Patient/${first}`).set(doc.auth).set('Content-Type', FHIR)
      .send(JSON.stringify({ ...patientBody(family, { name: [{ family, given: ['G0'] }] }), id: first }));
    expect(upd.status, upd.text).to.equal(200);
    live.push(first);
  });

  async function allPages(query: string, count: number): Promise<{ ids: string[]; pages: number; stamps: string[] }> {
    const c = await api();
    let url: string | undefined = `/fhir/Patient?${query}&_count=${count}`;
    const ids: string[] = [];
    const stamps: string[] = [];
    let pages = 0;
    while (url && pages < 20) {
      const res = await c.get(url).set(doc.auth);
      expect(res.status, res.text).to.equal(200);
      const b = res.body as Bundle;
      const matches = (b.entry ?? []).filter((e) => e.search.mode === 'match');
      ids.push(...matches.map((e) => e.resource.id));
      stamps.push(...matches.map((e) => e.resource.meta.lastUpdated));
      pages++;
      const next = b.link.find((l) => l.relation === 'next')?.url;
      url = next ? next.slice(next.indexOf('/fhir/')) : undefined;
    }
    return { ids, pages, stamps };
  }

  it('walks every match once, newest first, over pages of 2, 3 and 20', async () => {
    for (const count of [2, 3, 20]) {
      const { ids, pages, stamps } = await allPages(`family=${family}`, count);
      expect(ids, `_count=${count}`).to.deep.equal([...live].reverse());
      expect(pages).to.equal(Math.ceil(live.length / count)); // the last page knows it is the last
      expect([...stamps].sort().reverse()).to.deep.equal(stamps);
    }
  });

  it('several index-served criteria at once (string and token) page the same way', async () => {
    const { ids } = await allPages(`family=${family}&gender=male`, 2);
    const males = await allPages(`family=${family}&gender=male`, 50);
    expect(ids).to.deep.equal(males.ids);
    expect(ids).to.include(twoNames);
    expect(ids.length).to.be.greaterThan(2);
  });

  it('_id, :not and a criterion the index does not serve give the same answer as without paging', async () => {
    // birthdate is a range column, so `&birthdate=gt1900-01-01` (true of all) takes the ordinary path: the reference answer.
    const ordinary = async (q: string) => (await allPages(`${q}&birthdate=gt1900-01-01`, 50)).ids;
    expect(await ordinary(`family=${family}`)).to.deep.equal([...live].reverse());
    const some = live.slice(0, 3);
    expect((await allPages(`family=${family}&_id=${some.join(',')}`, 1)).ids).to.deep.equal(await ordinary(`family=${family}&_id=${some.join(',')}`));
    expect((await allPages(`family=${family}&_id=${some.join(',')}`, 1)).ids).to.have.members(some);
    const notMale = await allPages(`family=${family}&gender:not=male`, 2);
    expect(notMale.ids).to.deep.equal(await ordinary(`family=${family}&gender:not=male`));
    expect(notMale.ids).to.not.include(twoNames);
    expect(notMale.ids.length).to.be.greaterThan(2);
  });

  it('never shows the deleted patient or the other clinic\'s', async () => {
    const { ids } = await allPages(`family=${family}`, 4);
    expect(ids).to.not.include(deleted);
    expect(ids).to.have.length(live.length);
    const theirs = await (await api()).get(`/fhir/Patient?family=${family}`).set(other.auth);
    expect(theirs.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.not.include.members(live);
  });

  it('the id index carries what choosing a page reads (migrations 024, 030)', async () => {
    const db = await admin();
    const row = await db.raw(`select indexdef from pg_indexes where indexname = 'patient_id'`);
    expect(row.rows[0].indexdef).to.match(/UNIQUE INDEX patient_id ON public\.patient USING btree \(id, clinic_id\) INCLUDE \(deleted, last_updated\)/);
  });
});
