import { expect } from 'chai';
import { actor, api } from '../helpers/server';
import { COMPARTMENT_TYPES, created, newPatient, post, put } from '../helpers/resources';

// The same generic engine serves every type: one behaviour table, run for each.
for (const { type, body, otherStatus } of COMPARTMENT_TYPES) {
  describe(`${type} over FHIR REST`, () => {
    let auth: Record<string, string>;
    let patient: string;
    before(async () => {
      ({ auth } = await actor('clinic-admin'));
      patient = await newPatient(auth);
    });

    it('create answers 201 with Location, ETag and the stored resource', async () => {
      const res = await post(auth, type, body(patient));
      expect(res.status, res.text.slice(0, 400)).to.equal(201);
      expect(res.headers.location).to.match(new RegExp(`/fhir/${type}/[0-9a-f-]{36}/_history/1$`));
      expect(res.headers.etag).to.equal('W/"1"');
      expect(res.body.resourceType).to.equal(type);
      expect(res.body.meta.versionId).to.equal('1');
    });

    it('read returns the resource and If-None-Match on the current version answers 304', async () => {
      const id = await created(auth, type, body(patient));
      const a = await api();
      const read = await a.get(`/fhir/${type}/${id}`).set(auth);
      expect(read.status).to.equal(200);
      expect(read.body.id).to.equal(id);
      expect(read.headers.etag).to.equal('W/"1"');
      expect((await a.get(`/fhir/${type}/${id}`).set(auth).set('If-None-Match', 'W/"1"')).status).to.equal(304);
    });

    it('update with the current If-Match makes version 2; a stale If-Match gets 412 and changes nothing', async () => {
      const id = await created(auth, type, body(patient));
      const res = await put(auth, type, id, { ...body(patient, { status: otherStatus }), id }, 'W/"1"');
      expect(res.status, res.text.slice(0, 400)).to.equal(200);
      expect(res.body.meta.versionId).to.equal('2');
      const stale = await put(auth, type, id, { ...body(patient), id }, 'W/"1"');
      expect(stale.status).to.equal(412);
      expect(stale.body.resourceType).to.equal('OperationOutcome');
      const now = await (await api()).get(`/fhir/${type}/${id}`).set(auth);
      expect(now.body.meta.versionId).to.equal('2');
      expect(now.body.status).to.equal(otherStatus);
    });

    it('vread returns each version as it was', async () => {
      const id = await created(auth, type, body(patient));
      expect((await put(auth, type, id, { ...body(patient, { status: otherStatus }), id })).status).to.equal(200);
      const a = await api();
      const v1 = await a.get(`/fhir/${type}/${id}/_history/1`).set(auth);
      const v2 = await a.get(`/fhir/${type}/${id}/_history/2`).set(auth);
      expect([v1.status, v2.status]).to.deep.equal([200, 200]);
      expect(v1.body.status).to.not.equal(otherStatus);
      expect(v2.body.status).to.equal(otherStatus);
      expect((await a.get(`/fhir/${type}/${id}/_history/3`).set(auth)).status).to.equal(404);
    });

    it('delete is logical: read then answers 410, search no longer finds it, history keeps every version', async () => {
      const id = await created(auth, type, body(patient));
      const a = await api();
      expect((await a.delete(`/fhir/${type}/${id}`).set(auth)).status).to.equal(204);
      const gone = await a.get(`/fhir/${type}/${id}`).set(auth);
      expect(gone.status).to.equal(410);
      expect(gone.body.resourceType).to.equal('OperationOutcome');
      const found = await a.get(`/fhir/${type}?_id=${id}`).set(auth);
      expect(found.body.entry ?? []).to.have.length(0);
      const hist = await a.get(`/fhir/${type}/${id}/_history`).set(auth);
      expect(hist.status).to.equal(200);
      expect(hist.body.type).to.equal('history');
      expect(hist.body.entry.map((e: { request: { method: string } }) => e.request.method)).to.deep.equal(['DELETE', 'POST']);
    });

    it('type history lists the versions of every resource of the type in the clinic, and no other clinic', async () => {
      const id = await created(auth, type, body(patient));
      const other = await actor('clinic-admin');
      await created(other.auth, type, body(await newPatient(other.auth)));
      const hist = await (await api()).get(`/fhir/${type}/_history`).set(auth);
      expect(hist.status).to.equal(200);
      const urls: string[] = hist.body.entry.map((e: { fullUrl: string }) => e.fullUrl);
      expect(urls.some((u) => u.endsWith(`/${type}/${id}`))).to.equal(true);
      const clinicIds = await (await api()).get(`/fhir/${type}/_history`).set(other.auth);
      expect(clinicIds.body.entry.map((e: { fullUrl: string }) => e.fullUrl)).to.not.include.members(urls);
    });

    it("another clinic's token gets 404 on read, update and delete and nothing changes", async () => {
      const id = await created(auth, type, body(patient));
      const other = await actor('clinic-admin');
      const a = await api();
      expect((await a.get(`/fhir/${type}/${id}`).set(other.auth)).status).to.equal(404);
      expect((await put(other.auth, type, id, { ...body(patient), id })).status).to.be.oneOf([404, 422]);
      expect((await a.delete(`/fhir/${type}/${id}`).set(other.auth)).status).to.equal(404);
      expect((await a.get(`/fhir/${type}/${id}`).set(auth)).body.meta.versionId).to.equal('1');
    });

    it('a body of another type, or one that breaks the R4 rules, gets a 4xx OperationOutcome and writes nothing', async () => {
      const a = await api();
      const before = (await a.get(`/fhir/${type}?_summary=count`).set(auth)).body.total;
      for (const bad of [{ resourceType: 'Patient' }, { ...body(patient), status: 'not-a-status' }, { ...body(patient), colour: 'blue' }]) {
        const res = await post(auth, type, bad);
        expect(res.status, JSON.stringify(bad).slice(0, 80)).to.be.within(400, 422);
        expect(res.body.resourceType).to.equal('OperationOutcome');
      }
      expect((await a.get(`/fhir/${type}?_summary=count`).set(auth)).body.total).to.equal(before);
    });
  });
}
