import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import { actor, admin, api, FHIR, testServer } from '../helpers/server';
import { newPatient } from '../helpers/resources';
import { binaryId, binaryRows, docBody, inline, objectsUnder, postDoc, samplePdf, samplePng, uploadBinary } from './http-helpers';

const TEN_MB = 10 * 1024 * 1024;
const EXE = () => Buffer.concat([Buffer.from('MZ'), Buffer.from([0x90, 0, 3, 0, 0, 0]), randomBytes(2000)]);

/** A streamed upload without Content-Length (chunked), as a client piping a file would send it; stops once answered. */
async function postChunked(auth: Record<string, string>, patient: string, body: Buffer): Promise<{ status: number; sentBeforeAnswer: number }> {
  const { url } = await testServer();
  let sent = 0;
  let answered: number | undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/fhir/Binary`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/pdf', 'X-Security-Context': `Patient/${patient}` },
    }, (res) => {
      answered = sent;
      res.resume();
      res.on('end', () => { req.destroy(); resolve({ status: res.statusCode ?? 0, sentBeforeAnswer: answered ?? sent }); });
    });
    req.on('error', (err) => (answered === undefined ? reject(err) : undefined));
    const step = () => {
      if (answered !== undefined) return;
      if (sent >= body.length) return void req.end();
      const chunk = body.subarray(sent, sent + 65536);
      sent += chunk.length;
      if (req.write(chunk)) setImmediate(step);
      else req.once('drain', step);
    };
    step();
  });
}

describe('documents over HTTP: refused uploads leave nothing behind', () => {
  let doctor: Awaited<ReturnType<typeof actor>>;
  let patient: string;

  before(async () => {
    doctor = await actor('doctor');
    patient = await newPatient(doctor.auth, 'Refused');
  });

  /** Nothing of this patient in the bucket, no Binary row, no DocumentReference row. */
  async function expectNothingStored(): Promise<void> {
    expect(await objectsUnder(doctor.clinic, patient), 'objects').to.deep.equal([]);
    expect(await binaryRows(patient), 'binary rows').to.deep.equal([]);
    expect(Number((await (await admin())('document_reference').where({ patient_id: patient }).count({ n: '*' }))[0].n), 'documents').to.equal(0);
  }

  it('10 MB + 1 byte is refused with 413, raw or inline, and nothing is stored', async () => {
    const big = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(TEN_MB + 1 - 9, 0x20)]);
    const raw = await uploadBinary(doctor.auth, patient, big, 'application/pdf');
    expect(raw.status, raw.text.slice(0, 200)).to.equal(413);
    expect(raw.body.resourceType).to.equal('OperationOutcome');
    const huge = Buffer.concat([big, Buffer.alloc(30 * 1024 * 1024, 0x20)]);
    const chunked = await postChunked(doctor.auth, patient, huge);
    expect(chunked.status, 'without a Content-Length the count stops it').to.equal(413);
    expect(chunked.sentBeforeAnswer, 'answered once the count passed 10 MB, not at the end').to.be.lessThan(huge.length - 16 * 1024 * 1024);
    const inlined = await postDoc(doctor.auth, docBody(patient, inline(big)));
    expect(inlined.status, inlined.text.slice(0, 200)).to.equal(413);
    await expectNothingStored();
    // Exactly 10 MB is accepted: the limit is the limit, not a byte less.
    const atLimit = await uploadBinary(doctor.auth, patient, big.subarray(0, TEN_MB), 'application/pdf');
    expect(atLimit.status, atLimit.text.slice(0, 200)).to.equal(201);
    const inlineAtLimit = await postDoc(doctor.auth, docBody(patient, inline(big.subarray(0, TEN_MB))));
    expect(inlineAtLimit.status, inlineAtLimit.text.slice(0, 200)).to.equal(201);
    expect(await binaryRows(patient)).to.have.length(2);
  });

  it('a PDF header declared as PNG, and an .exe renamed application/pdf, are refused (415)', async () => {
    const other = await newPatient(doctor.auth, 'Magic');
    const pdfAsPng = await uploadBinary(doctor.auth, other, samplePdf(), 'image/png');
    expect(pdfAsPng.status).to.equal(415);
    const exeAsPdf = await uploadBinary(doctor.auth, other, EXE(), 'application/pdf');
    expect(exeAsPdf.status).to.equal(415);
    expect((await postDoc(doctor.auth, docBody(other, inline(samplePdf(), 'image/png')))).status).to.equal(415);
    expect((await postDoc(doctor.auth, docBody(other, inline(EXE(), 'application/pdf')))).status).to.equal(415);
    // A type outside the allow-list: raw 415; inline, the profile refuses it first (422).
    expect((await uploadBinary(doctor.auth, other, EXE(), 'application/x-msdownload')).status).to.equal(415);
    expect((await postDoc(doctor.auth, docBody(other, inline(EXE(), 'application/x-msdownload')))).status).to.equal(422);
    // The control: the same PNG with its own type is accepted.
    expect((await uploadBinary(doctor.auth, other, samplePng(), 'image/png')).status).to.equal(201);
    expect((await binaryRows(other)).length).to.equal(1);
  });

  it('an empty body is refused (422), and so is a missing or malformed X-Security-Context (400)', async () => {
    const other = await newPatient(doctor.auth, 'Empty');
    const a = await api();
    expect((await uploadBinary(doctor.auth, other, Buffer.alloc(0), 'application/pdf')).status).to.equal(422);
    expect((await postDoc(doctor.auth, docBody(other, { contentType: 'application/pdf', data: '' }))).status).to.be.oneOf([400, 422]);
    const noContext = await a.post('/fhir/Binary').set(doctor.auth).set('Content-Type', 'application/pdf').send(samplePdf());
    expect(noContext.status).to.equal(400);
    const bad = await a.post('/fhir/Binary').set(doctor.auth).set('Content-Type', 'application/pdf')
      .set('X-Security-Context', 'Patient/../../etc').send(samplePdf());
    expect(bad.status).to.equal(400);
    expect(await binaryRows(other)).to.deep.equal([]);
  });

  it('a Binary of another clinic or of another patient cannot be referenced (422), nor one held by another document (409)', async () => {
    const mine = await newPatient(doctor.auth, 'Mine');
    const sibling = await newPatient(doctor.auth, 'Sibling');
    const binary = await binaryId(doctor.auth, mine, samplePdf());
    const ref = { contentType: 'application/pdf', url: `Binary/${binary}` };

    const otherPatient = await postDoc(doctor.auth, docBody(sibling, ref));
    expect(otherPatient.status, otherPatient.text.slice(0, 200)).to.equal(422);
    const b = await actor('doctor');
    const theirPatient = await newPatient(b.auth, 'Theirs');
    const otherClinic = await postDoc(b.auth, docBody(theirPatient, ref));
    expect(otherClinic.status).to.equal(422);
    expect(otherClinic.text).to.include('is not a document of this patient in this clinic');
    // Same answer as for an id that does not exist anywhere: no oracle.
    const unknown = await postDoc(b.auth, docBody(theirPatient, { contentType: 'application/pdf', url: `Binary/${randomUUID()}` }));
    expect(unknown.status).to.equal(422);
    // Uploading for another clinic's patient is refused before any byte is stored.
    const upload = await uploadBinary(b.auth, mine, samplePdf(), 'application/pdf');
    expect(upload.status).to.equal(422);

    const first = await postDoc(doctor.auth, docBody(mine, ref));
    expect(first.status, first.text.slice(0, 200)).to.equal(201);
    const second = await postDoc(doctor.auth, docBody(mine, ref));
    expect(second.status).to.equal(409);
    expect(await objectsUnder(b.clinic)).to.deep.equal([]);
  });

  it('a signed link of clinic B written into a clinic A document is refused by the app guard (403)', async () => {
    const b = await actor('doctor');
    const theirs = await newPatient(b.auth, 'B');
    const res = await postDoc(b.auth, docBody(theirs, inline(samplePdf())));
    const read = await (await api()).get(`/fhir/DocumentReference/${String(res.body.id)}`).set(b.auth);
    const link = read.body.content[0].attachment.url as string;
    expect(link).to.match(/X-Amz-Signature/);
    const mine = await newPatient(doctor.auth, 'A');
    const hijack = await postDoc(doctor.auth, docBody(mine, { contentType: 'application/pdf', url: link }));
    expect(hijack.status, hijack.text.slice(0, 200)).to.equal(403);
    // The same link, with clinic B's prefix swapped for A's own, names no Binary of this patient.
    const swapped = link.replace(`/clinics/${b.clinic}/`, `/clinics/${doctor.clinic}/`);
    expect((await postDoc(doctor.auth, docBody(mine, { contentType: 'application/pdf', url: swapped }))).status).to.equal(422);
    const wrongType = await (await api()).post('/fhir/DocumentReference').set(doctor.auth).set('Content-Type', FHIR)
      .send(JSON.stringify(docBody(mine, { contentType: 'application/pdf', url: 'Binary/not-a-uuid' })));
    expect(wrongType.status).to.equal(422);
  });
});
