import { expect } from 'chai';
import { auditOf } from '../helpers/audit';
import { actor, api, FHIR, patientBody } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;
const uniq = () => Math.random().toString(36).slice(2, 10);

describe('Conditional create, update and delete', () => {
  let doc: Actor;
  before(async () => { doc = await actor('doctor'); });

  const post = async (who: Actor, body: object, ifNoneExist?: string) => {
    const req = (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR);
    if (ifNoneExist !== undefined) req.set('If-None-Exist', ifNoneExist);
    return req.send(JSON.stringify(body));
  };
  const ids = async (who: Actor, q: string): Promise<string[]> => {
    const res = await (await api()).get(`/fhir/Patient?${q}`).set(who.auth);
    expect(res.status, res.text).to.equal(200);
    return (res.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id).sort();
  };
  const withMrn = (mrn: string, family = 'Cond') => patientBody(family, { identifier: [{ system: 'urn:mrn', value: mrn }] });

  describe('If-None-Exist', () => {
    it('no match creates (201); one match answers 200 with the existing resource and writes nothing', async () => {
      const family = `Nx${uniq()}`;
      const first = await post(doc, patientBody(family), `family=${family}&birthdate=1980-04-12`);
      expect(first.status, first.text).to.equal(201);
      const again = await post(doc, patientBody(family, { gender: 'male' }), `family=${family}&birthdate=1980-04-12`);
      expect(again.status, again.text).to.equal(200);
      expect(again.body.id).to.equal(first.body.id);
      expect(again.body.gender).to.equal('female');
      expect(again.body.meta.versionId).to.equal('1');
      expect(await ids(doc, `family=${family}`)).to.deep.equal([first.body.id]);
    });

    it('accepts the criteria written as Type?query', async () => {
      const mrn = uniq();
      const a = await post(doc, withMrn(mrn), `Patient?identifier=urn:mrn|${mrn}`);
      const b = await post(doc, withMrn(mrn), `Patient?identifier=urn:mrn|${mrn}`);
      expect([a.status, b.status]).to.deep.equal([201, 200]);
      expect(b.body.id).to.equal(a.body.id);
    });

    it('several matches answer 412 and create nothing', async () => {
      const family = `Many${uniq()}`;
      await post(doc, patientBody(family));
      await post(doc, patientBody(family));
      const res = await post(doc, patientBody(family), `family=${family}`);
      expect(res.status).to.equal(412);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      expect(await ids(doc, `family=${family}`)).to.have.length(2);
    });

    it('an unknown parameter or no criterion at all is a 400, never a match-everything', async () => {
      const family = `Bad${uniq()}`;
      expect((await post(doc, patientBody(family), `colour=blue`)).status).to.equal(400);
      expect((await post(doc, patientBody(family), `_count=1`)).status).to.equal(400);
      expect((await post(doc, patientBody(family), `birthdate=notadate`)).status).to.equal(400);
      expect(await ids(doc, `family=${family}`)).to.deep.equal([]);
    });

    it("cannot see another clinic's match: clinic B creates its own", async () => {
      const other = await actor('doctor');
      const mrn = uniq();
      const inA = await post(doc, withMrn(mrn), `identifier=urn:mrn|${mrn}`);
      const inB = await post(other, withMrn(mrn), `identifier=urn:mrn|${mrn}`);
      expect([inA.status, inB.status]).to.deep.equal([201, 201]);
      expect(inB.body.id).to.not.equal(inA.body.id);
    });

    it('needs search permission too: a create-only token gets 403, audited, and nothing is written', async () => {
      const createOnly = await actor('doctor', 'user/Patient.c', doc.clinic);
      const family = `Co${uniq()}`;
      expect((await post(createOnly, patientBody(family))).status).to.equal(201);
      const res = await post(createOnly, patientBody(family), `family=${family}`);
      expect(res.status).to.equal(403);
      expect(await ids(doc, `family=${family}`)).to.have.length(1);
      const refused = (await auditOf(createOnly.user)).filter((e) => e.outcome === '4');
      expect(refused.map((e) => e.subtype)).to.deep.equal(['create']);
    });
  });

  describe('PUT [type]?criteria', () => {
    const put = async (who: Actor, q: string, body: object, ifMatch?: string) => {
      const req = (await api()).put(`/fhir/Patient?${q}`).set(who.auth).set('Content-Type', FHIR);
      if (ifMatch) req.set('If-Match', ifMatch);
      return req.send(JSON.stringify(body));
    };

    it('no match creates (201, audited as a create), one match is updated (200, version 2)', async () => {
      const mrn = uniq();
      const created = await put(doc, `identifier=urn:mrn|${mrn}`, withMrn(mrn, 'First'));
      expect(created.status, created.text).to.equal(201);
      expect(created.headers.location).to.match(/\/Patient\/[0-9a-f-]{36}\/_history\/1$/);
      const updated = await put(doc, `identifier=urn:mrn|${mrn}`, withMrn(mrn, 'Second'));
      expect(updated.status, updated.text).to.equal(200);
      expect(updated.body.id).to.equal(created.body.id);
      expect(updated.body.meta.versionId).to.equal('2');
      expect(updated.body.name[0].family).to.equal('Second');
      const events = (await auditOf(doc.user)).filter((e) => e.entity.includes(created.body.id));
      expect(events.map((e) => `${e.subtype}:${e.action}`)).to.include.members(['create:C', 'update:U']);
    });

    it('honours If-Match on the matched resource', async () => {
      const mrn = uniq();
      await put(doc, `identifier=urn:mrn|${mrn}`, withMrn(mrn));
      expect((await put(doc, `identifier=urn:mrn|${mrn}`, withMrn(mrn, 'Late'), 'W/"7"')).status).to.equal(412);
      expect((await put(doc, `identifier=urn:mrn|${mrn}`, withMrn(mrn, 'OnTime'), 'W/"1"')).status).to.equal(200);
    });

    it('several matches answer 412 and change nothing', async () => {
      const family = `Dup${uniq()}`;
      const a = await post(doc, patientBody(family));
      await post(doc, patientBody(family));
      const res = await put(doc, `family=${family}`, patientBody(family, { gender: 'male' }));
      expect(res.status).to.equal(412);
      const still = await (await api()).get(`/fhir/Patient/${a.body.id}`).set(doc.auth);
      expect(still.body.meta.versionId).to.equal('1');
    });

    it('a body id that is not the match is a 400; a client id for a create is a 400', async () => {
      const mrn = uniq();
      const made = await put(doc, `identifier=urn:mrn|${mrn}`, withMrn(mrn));
      const wrongId = await put(doc, `identifier=urn:mrn|${mrn}`, { ...withMrn(mrn), id: '0b3f6a51-0000-4000-8000-000000000000' });
      expect(wrongId.status).to.equal(400);
      const rightId = await put(doc, `identifier=urn:mrn|${mrn}`, { ...withMrn(mrn, 'Ok'), id: made.body.id });
      expect(rightId.status).to.equal(200);
      const clientId = await put(doc, `identifier=urn:mrn|${uniq()}`, { ...withMrn('x'), id: '0b3f6a51-0000-4000-8000-000000000001' });
      expect(clientId.status).to.equal(400);
    });

    it("clinic B's conditional update never touches clinic A's match", async () => {
      const other = await actor('doctor');
      const mrn = uniq();
      const inA = await put(doc, `identifier=urn:mrn|${mrn}`, withMrn(mrn, 'Mine'));
      const inB = await put(other, `identifier=urn:mrn|${mrn}`, withMrn(mrn, 'Hijack'));
      expect(inB.status).to.equal(201);
      const a = await (await api()).get(`/fhir/Patient/${inA.body.id}`).set(doc.auth);
      expect(a.body.meta.versionId).to.equal('1');
      expect(a.body.name[0].family).to.equal('Mine');
    });

    it('a role that may update but not create gets 403 when nothing matches', async () => {
      const nurse = await actor('nurse', 'user/*.cruds', doc.clinic);
      const res = await put(nurse, `identifier=urn:mrn|${uniq()}`, withMrn('n'));
      expect(res.status).to.equal(403);
    });

    it('PUT [type] without criteria is a 400', async () => {
      const res = await (await api()).put('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody()));
      expect(res.status).to.equal(400);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    });
  });

  describe('DELETE [type]?criteria', () => {
    const del = async (who: Actor, q: string) => (await api()).delete(`/fhir/Patient?${q}`).set(who.auth);

    it('deletes the single match (then 410); no match is a 204', async () => {
      const mrn = uniq();
      const made = await post(doc, withMrn(mrn));
      expect((await del(doc, `identifier=urn:mrn|${mrn}`)).status).to.equal(204);
      expect((await (await api()).get(`/fhir/Patient/${made.body.id}`).set(doc.auth)).status).to.equal(410);
      expect((await del(doc, `identifier=urn:mrn|${mrn}`)).status).to.equal(204);
    });

    it('several matches answer 412 and delete nothing', async () => {
      const family = `Del${uniq()}`;
      await post(doc, patientBody(family));
      await post(doc, patientBody(family));
      expect((await del(doc, `family=${family}`)).status).to.equal(412);
      expect(await ids(doc, `family=${family}`)).to.have.length(2);
    });

    it("cannot delete another clinic's match, and no criterion is a 400", async () => {
      const other = await actor('doctor');
      const mrn = uniq();
      const made = await post(doc, withMrn(mrn));
      expect((await del(other, `identifier=urn:mrn|${mrn}`)).status).to.equal(204);
      expect((await (await api()).get(`/fhir/Patient/${made.body.id}`).set(doc.auth)).status).to.equal(200);
      expect((await (await api()).delete('/fhir/Patient').set(doc.auth)).status).to.equal(400);
    });

    it('a role without delete permission gets 403 and the refusal is audited', async () => {
      const desk = await actor('front-desk', 'user/*.cruds', doc.clinic);
      const mrn = uniq();
      const made = await post(doc, withMrn(mrn));
      expect((await del(desk, `identifier=urn:mrn|${mrn}`)).status).to.equal(403);
      expect((await (await api()).get(`/fhir/Patient/${made.body.id}`).set(doc.auth)).status).to.equal(200);
      expect((await auditOf(desk.user)).map((e) => `${e.subtype}:${e.outcome}`)).to.deep.equal(['delete:4']);
    });
  });
});
