import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { sweepOrphans } from '../../server/documents/cleanup';
import { EmbeddedS3, type RunningEmbeddedS3 } from '../../server/documents/embedded-s3';
import { documentKey } from '../../server/documents/keys';
import { actor, admin, api, FHIR, patientBody, testServer } from '../helpers/server';
import { newPatient } from '../helpers/resources';
import {
  attachmentOf, binaryId, binaryRows, createdDoc, docBody, fetchLink, inline, isSignedLink, objectsUnder, postDoc, samplePdf,
  secondApp, unavailableOf, uploadBinary,
} from './http-helpers';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function documentRows(patientId: string): Promise<number> {
  return Number((await (await admin())('document_reference').where({ patient_id: patientId }).count({ n: '*' }))[0].n);
}

describe('documents over HTTP: failure without damage', () => {
  let doctor: Awaited<ReturnType<typeof actor>>;

  before(async () => { doctor = await actor('doctor'); });

  it('the store going down: uploads answer 503 with no row written, reads still answer with the attachment marked unavailable', async function () {
    this.timeout(30_000);
    const app = await secondApp();
    let restarted: RunningEmbeddedS3 | undefined;
    try {
      const patient = await newPatient(doctor.auth, 'Down');
      const before = await createdDoc(doctor.auth, docBody(patient, inline(samplePdf())), app.agent);
      const embedded = app.docs.embedded as RunningEmbeddedS3;
      await embedded.stop();

      const raw = await uploadBinary(doctor.auth, patient, samplePdf(), 'application/pdf', app.agent);
      expect(raw.status).to.equal(503);
      expect(raw.body.resourceType).to.equal('OperationOutcome');
      expect(raw.body.issue[0].code).to.equal('transient');
      const inlined = await postDoc(doctor.auth, docBody(patient, inline(samplePdf())), app.agent);
      expect(inlined.status).to.equal(503);
      expect(await binaryRows(patient), 'only the Binary of the document made before').to.have.length(1);
      expect(await documentRows(patient)).to.equal(1);

      const read = await app.agent.get(`/fhir/DocumentReference/${String(before.id)}`).set(doctor.auth);
      expect(read.status).to.equal(200);
      const att = attachmentOf(read.body);
      expect(att.url).to.equal(attachmentOf(before).url);
      expect(unavailableOf(att)).to.not.equal(undefined);
      const search = await app.agent.get(`/fhir/DocumentReference?patient=${patient}`).set(doctor.auth);
      expect(search.status).to.equal(200);
      expect(unavailableOf(attachmentOf(search.body.entry[0].resource))).to.not.equal(undefined);
      expect((await app.agent.get(`/fhir/${String(attachmentOf(before).url)}`).set(doctor.auth).redirects(0)).status).to.equal(503);
      // Non-document FHIR is untouched.
      expect((await app.agent.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Fine')))).status).to.equal(201);

      // Back on the same port and data: the next upload works, and so do links.
      restarted = await new EmbeddedS3({ port: embedded.port, directory: path.join(app.dataDir, 's3'), accessKey: embedded.accessKey, secretKey: embedded.secretKey }).start();
      const again = await postDoc(doctor.auth, docBody(patient, inline(samplePdf())), app.agent);
      expect(again.status, again.text.slice(0, 200)).to.equal(201);
      const back = await app.agent.get(`/fhir/DocumentReference/${String(before.id)}`).set(doctor.auth);
      expect(isSignedLink(attachmentOf(back.body).url)).to.equal(true);
      expect((await fetchLink(attachmentOf(back.body).url as string)).status).to.equal(200);
    } finally {
      await restarted?.stop();
      await app.close();
    }
  });

  it('a store that is down at start: the server serves FHIR, document writes answer 503, reads mark attachments unavailable', async () => {
    const patient = await newPatient(doctor.auth, 'NeverUp');
    const made = await createdDoc(doctor.auth, docBody(patient, inline(samplePdf())));
    const app = await secondApp({ S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`, S3_ACCESS_KEY: 'someone', S3_SECRET_KEY: 'something-secret-enough' });
    try {
      expect((await app.agent.get(`/fhir/Patient/${patient}`).set(doctor.auth)).status).to.equal(200);
      const write = await postDoc(doctor.auth, docBody(patient, inline(samplePdf())), app.agent);
      expect(write.status).to.equal(503);
      expect((await uploadBinary(doctor.auth, patient, samplePdf(), 'application/pdf', app.agent)).status).to.equal(503);
      expect(await documentRows(patient)).to.equal(1);
      expect(await binaryRows(patient)).to.have.length(1);
      const read = await app.agent.get(`/fhir/DocumentReference/${String(made.id)}`).set(doctor.auth);
      expect(read.status).to.equal(200);
      expect(unavailableOf(attachmentOf(read.body))).to.not.equal(undefined);
      expect(read.text).to.not.match(/X-Amz-Signature/);
    } finally {
      await app.close();
    }
  });

  it('a database write that fails after the upload leaves no object: the transaction rolls back and the upload is removed', async () => {
    const { documents } = await testServer();
    const patient = await newPatient(doctor.auth, 'Rollback');
    const uploaded: string[] = [];
    const put = documents.store.put.bind(documents.store);
    documents.store.put = async (key, ...rest) => { uploaded.push(key); return put(key, ...rest); };
    try {
      const bundle = (bad: boolean) => JSON.stringify({
        resourceType: 'Bundle', type: 'transaction',
        entry: [
          { resource: docBody(patient, inline(samplePdf())), request: { method: 'POST', url: 'DocumentReference' } },
          // PUT runs after POST in a transaction: this one fails once the document and its object exist.
          ...(bad ? [{ resource: { ...patientBody('Ghost'), id: randomUUID() }, request: { method: 'PUT', url: 'Patient/00000000-0000-4000-8000-000000000000' } }] : []),
        ],
      });
      const failed = await (await api()).post('/fhir').set(doctor.auth).set('Content-Type', FHIR).send(bundle(true));
      expect(failed.status, failed.text.slice(0, 300)).to.be.within(400, 499);
      expect(uploaded, 'the object was uploaded before the failure').to.have.length(1);
      expect(await objectsUnder(doctor.clinic, patient)).to.deep.equal([]);
      expect(await binaryRows(patient)).to.deep.equal([]);
      expect(await documentRows(patient)).to.equal(0);

      const ok = await (await api()).post('/fhir').set(doctor.auth).set('Content-Type', FHIR).send(bundle(false));
      expect(ok.status).to.equal(200);
      expect(uploaded).to.have.length(2);
      expect(await objectsUnder(doctor.clinic, patient)).to.deep.equal([uploaded[1]]);
    } finally {
      documents.store.put = put;
    }
  });

  it('the sweeper removes objects without a Binary row once they are old enough, and nothing else', async () => {
    const { documents, db } = await testServer();
    const patient = await newPatient(doctor.auth, 'Sweep');
    const kept = await binaryId(doctor.auth, patient, samplePdf());
    const [row] = await binaryRows(patient);
    expect(row.id).to.equal(kept);
    const orphan = documentKey({ clinicId: doctor.clinic, patientId: patient, documentId: randomUUID(), attachmentId: randomUUID() });
    await documents.store.put(orphan, samplePdf(), 'application/pdf');
    expect(await objectsUnder(doctor.clinic, patient)).to.deep.equal([row.object_key, orphan].sort());

    const young = await sweepOrphans(db.runtime, documents, { olderThanMinutes: 60 });
    expect(young.checked).to.be.greaterThan(1);
    expect(await objectsUnder(doctor.clinic, patient), 'a fresh orphan may be an upload in flight').to.include(orphan);

    const later = await sweepOrphans(db.runtime, documents, { olderThanMinutes: 60, now: new Date(Date.now() + 2 * 3600_000) });
    expect(later.removed).to.be.greaterThan(0);
    expect(await objectsUnder(doctor.clinic, patient)).to.deep.equal([row.object_key]);
    expect((await fetchLink((await documents.signFor(row.object_key, doctor.clinic)).url)).status).to.equal(200);
  });
});
