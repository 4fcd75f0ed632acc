import { expect } from 'chai';
import { actor, admin, api, FHIR } from '../helpers/server';
import { newPatient } from '../helpers/resources';
import {
  attachmentOf, binaryId, binaryRows, createdDoc, docBody, expiresOf, fetchLink, inline, isSignedLink, type Json,
  linkAudits, objectsUnder, samplePdf, samplePng, sha1,
} from './http-helpers';

describe('documents over HTTP: upload, signed link, download', () => {
  let doctor: Awaited<ReturnType<typeof actor>>;
  let patient: string;

  before(async () => {
    doctor = await actor('doctor');
    patient = await newPatient(doctor.auth, 'Docs');
  });

  async function read(id: string): Promise<Json> {
    const res = await (await api()).get(`/fhir/DocumentReference/${id}`).set(doctor.auth);
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    return res.body as Json;
  }

  it('a raw POST /fhir/Binary referenced by a DocumentReference downloads byte for byte through its signed link', async () => {
    const bytes = samplePdf(3 * 1024 * 1024 + 11);
    const id = await binaryId(doctor.auth, patient, bytes);
    const created = await (await admin())('audit_event').where({ subtype: 'create', entity_type: 'Binary', entity_id: id })
      .select('patient_id') as Array<{ patient_id: string }>;
    expect(created.map((r) => r.patient_id), 'the upload is audited with its patient').to.deep.equal([patient]);
    const doc = await createdDoc(doctor.auth, docBody(patient, { contentType: 'application/pdf', url: `Binary/${id}` }));
    // Stored form: the stable reference, with the server's size and SHA-1.
    expect(attachmentOf(doc)).to.deep.include({ url: `Binary/${id}`, size: bytes.length, hash: sha1(bytes) });

    const att = attachmentOf(await read(doc.id as string));
    expect(isSignedLink(att.url), String(att.url)).to.equal(true);
    const expires = Date.parse(String(expiresOf(att)));
    expect(expires - Date.now()).to.be.within(3000 * 1000, 3601 * 1000);
    const got = await fetchLink(att.url as string);
    expect(got.status).to.equal(200);
    expect(got.body.equals(bytes), 'same bytes').to.equal(true);
    expect(got.type).to.equal('application/pdf');
  });

  it('inline base64 data is stored in the bucket, never in the row, and comes back byte for byte', async () => {
    const bytes = samplePng(50_000);
    const doc = await createdDoc(doctor.auth, docBody(patient, inline(bytes, 'image/png')));
    const stored = attachmentOf(doc);
    expect(stored).to.not.have.property('data');
    expect(stored.url).to.match(/^Binary\/[0-9a-f-]{36}$/);
    expect(stored).to.deep.include({ contentType: 'image/png', size: bytes.length, hash: sha1(bytes) });

    const db = await admin();
    for (const table of ['document_reference', 'document_reference_history']) {
      const rows = await db(table).where({ id: doc.id }).select(db.raw('resource::text as text')) as Array<{ text: string }>;
      expect(rows.length, table).to.be.greaterThan(0);
      for (const r of rows) {
        expect(r.text, table).to.not.include('"data"');
        expect(r.text, table).to.not.include(bytes.subarray(0, 30).toString('base64'));
      }
    }
    const binary = String(stored.url).slice('Binary/'.length);
    const [row] = (await binaryRows(patient)).filter((r) => r.id === binary);
    expect(row).to.deep.include({ document_id: doc.id, size: bytes.length, sha1: sha1(bytes) });
    expect(row.object_key).to.equal(`clinics/${doctor.clinic}/patients/${patient}/${doc.id}/${binary}`);
    expect(await objectsUnder(doctor.clinic, patient)).to.include(row.object_key);

    const got = await fetchLink(attachmentOf(await read(doc.id as string)).url as string);
    expect(got.status).to.equal(200);
    expect(got.body.equals(bytes)).to.equal(true);
  });

  it('handing out a link writes an AuditEvent naming the user, the Binary, the document and the patient', async () => {
    const doc = await createdDoc(doctor.auth, docBody(patient, inline(samplePdf())));
    const binary = String(attachmentOf(doc).url).slice('Binary/'.length);
    expect(await linkAudits(binary)).to.deep.equal([]);
    await read(doc.id as string);
    await read(doc.id as string);
    const audits = await linkAudits(binary);
    expect(audits).to.have.length(2);
    for (const a of audits) {
      expect(a).to.deep.equal({
        agent: doctor.user, outcome: '0',
        entities: [`Binary/${binary}`, `DocumentReference/${String(doc.id)}`, `Patient/${patient}`].sort(),
      });
    }
  });

  it('the same link is handed out again within a short window, so a browser can reuse its copy', async () => {
    const doc = await createdDoc(doctor.auth, docBody(patient, inline(samplePdf())));
    const first = attachmentOf(await read(doc.id as string)).url;
    const second = attachmentOf(await read(doc.id as string)).url;
    expect(isSignedLink(first)).to.equal(true);
    expect(second).to.equal(first);
  });

  it('search, _revinclude, vread and history all carry fresh links; a deleted document gets none', async () => {
    const bytes = samplePdf();
    const doc = await createdDoc(doctor.auth, docBody(patient, inline(bytes)));
    const id = doc.id as string;
    const a = await api();
    const search = await a.get(`/fhir/DocumentReference?_id=${id}`).set(doctor.auth);
    expect(isSignedLink(attachmentOf(search.body.entry[0].resource).url)).to.equal(true);
    const rev = await a.get(`/fhir/Patient?_id=${patient}&_revinclude=DocumentReference:subject`).set(doctor.auth);
    const included = (rev.body.entry as Json[]).map((e) => e.resource as Json).find((r) => r.id === id) as Json;
    expect(isSignedLink(attachmentOf(included).url)).to.equal(true);
    const vread = await a.get(`/fhir/DocumentReference/${id}/_history/1`).set(doctor.auth);
    expect(isSignedLink(attachmentOf(vread.body).url)).to.equal(true);
    const history = await a.get(`/fhir/DocumentReference/${id}/_history`).set(doctor.auth);
    expect(isSignedLink(attachmentOf(history.body.entry[0].resource).url)).to.equal(true);
    expect((await fetchLink(attachmentOf(history.body.entry[0].resource).url as string)).body.equals(bytes)).to.equal(true);

    expect((await a.delete(`/fhir/DocumentReference/${id}`).set(doctor.auth)).status).to.equal(204);
    expect((await a.get(`/fhir/DocumentReference/${id}`).set(doctor.auth)).status).to.equal(410);
    const old = await a.get(`/fhir/DocumentReference/${id}/_history/1`).set(doctor.auth);
    expect(old.status).to.equal(200);
    expect(attachmentOf(old.body).url).to.match(/^Binary\//);
    const after = await a.get(`/fhir/DocumentReference/${id}/_history`).set(doctor.auth);
    expect(after.text).to.not.match(/X-Amz-Signature/);
    const binary = String(attachmentOf(doc).url).slice('Binary/'.length);
    expect((await a.get(`/fhir/Binary/${binary}`).set(doctor.auth).redirects(0)).status).to.equal(410);
  });

  it('GET /fhir/Binary/{id} answers 302 to a signed link that downloads the bytes', async () => {
    const bytes = samplePdf(20_000);
    const id = await binaryId(doctor.auth, patient, bytes);
    const res = await (await api()).get(`/fhir/Binary/${id}`).set(doctor.auth).redirects(0);
    expect(res.status).to.equal(302);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(isSignedLink(res.headers.location)).to.equal(true);
    expect((await fetchLink(res.headers.location)).body.equals(bytes)).to.equal(true);
    expect(await linkAudits(id)).to.have.length(1);
  });

  it('a resource read with its links and written back keeps the stable Binary reference', async () => {
    const bytes = samplePdf();
    const doc = await createdDoc(doctor.auth, docBody(patient, inline(bytes)));
    const stable = attachmentOf(doc).url;
    const readBack = await read(doc.id as string);
    expect(isSignedLink(attachmentOf(readBack).url)).to.equal(true);
    const res = await (await api()).put(`/fhir/DocumentReference/${String(doc.id)}`).set(doctor.auth).set('Content-Type', FHIR)
      .send(JSON.stringify({ ...readBack, status: 'superseded' }));
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    const att = attachmentOf(res.body);
    expect(att.url).to.equal(stable);
    expect(att).to.not.have.property('extension');
    expect((await fetchLink(attachmentOf(await read(doc.id as string)).url as string)).body.equals(bytes)).to.equal(true);
  });

  it('inline data also works through update, JSON Patch and a transaction Bundle', async () => {
    const a = await api();
    const doc = await createdDoc(doctor.auth, docBody(patient, { contentType: 'application/pdf', url: 'https://example.org/external.pdf' }));
    const id = doc.id as string;
    const one = samplePdf();
    const put = await a.put(`/fhir/DocumentReference/${id}`).set(doctor.auth).set('Content-Type', FHIR)
      .send(JSON.stringify({ ...docBody(patient, inline(one)), id }));
    expect(put.status, put.text.slice(0, 300)).to.equal(200);
    expect(attachmentOf(put.body)).to.deep.include({ size: one.length, hash: sha1(one) });
    const two = samplePng();
    const patch = await a.patch(`/fhir/DocumentReference/${id}`).set(doctor.auth).set('Content-Type', 'application/json-patch+json')
      .send(JSON.stringify([{ op: 'add', path: '/content/-', value: { attachment: inline(two, 'image/png') } }]));
    expect(patch.status, patch.text.slice(0, 300)).to.equal(200);
    expect(attachmentOf(patch.body, 1)).to.deep.include({ size: two.length, hash: sha1(two) });
    expect(attachmentOf(patch.body, 1)).to.not.have.property('data');
    const three = samplePdf(777);
    const bundle = await a.post('/fhir').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify({
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: docBody(patient, inline(three)), request: { method: 'POST', url: 'DocumentReference' } }],
    }));
    expect(bundle.status, bundle.text.slice(0, 300)).to.equal(200);
    const createdId = String(bundle.body.entry[0].response.location).split('/')[5];
    const got = await read(createdId);
    expect((await fetchLink(attachmentOf(got).url as string)).body.equals(three)).to.equal(true);
    // The external link is kept as given and never signed.
    expect(attachmentOf(doc).url).to.equal('https://example.org/external.pdf');
  });
});
