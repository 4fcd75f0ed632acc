import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  assertKeyInClinic,
  assertPrefixInClinicShape,
  assertSignedUrlInClinic,
  assertValidKey,
  documentKey,
  parseDocumentKey,
} from '../../server/documents/keys';
import { expectOutcome } from './helpers';

describe('documents: storage keys and the clinic guard', () => {
  const clinicA = randomUUID();
  const clinicB = randomUUID();
  const patient = randomUUID();
  const doc = randomUUID();
  const att = randomUUID();
  const keyA = `clinics/${clinicA}/patients/${patient}/${doc}/${att}`;
  const keyB = `clinics/${clinicB}/patients/${patient}/${doc}/${att}`;
  const signedQuery = `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=${'a'.repeat(64)}`;

  it('builds the documented key shape, lowercasing ids', () => {
    expect(documentKey({ clinicId: clinicA.toUpperCase(), patientId: patient, documentId: doc, attachmentId: att })).to.equal(keyA);
    expect(parseDocumentKey(keyA)).to.deep.equal({ clinicId: clinicA, patientId: patient, documentId: doc, attachmentId: att });
  });

  it('refuses to build a key from anything but UUIDs', async () => {
    for (const bad of ['..', '', 'abc', `${clinicA}/x`, `${clinicA} `, '00000000-0000-0000-0000-00000000000g']) {
      await expectOutcome(() => documentKey({ clinicId: clinicA, patientId: bad, documentId: doc, attachmentId: att }), 400);
    }
  });

  it("accepts a key in the caller's clinic", () => {
    expect(assertKeyInClinic(keyA, clinicA).clinicId).to.equal(clinicA);
  });

  it("refuses another clinic's key with 403", async () => {
    await expectOutcome(() => assertKeyInClinic(keyB, clinicA), 403);
    await expectOutcome(() => assertKeyInClinic(keyA, clinicB), 403);
  });

  it('refuses path tricks that would resolve into another clinic', async () => {
    const tail = `patients/${patient}/${doc}/${att}`;
    const tricks = [
      `clinics/${clinicA}/../${clinicB}/${tail}`,
      `clinics/${clinicA}/%2e%2e/${clinicB}/${tail}`,
      `clinics/${clinicA}/%2E%2E/${clinicB}/${tail}`,
      `clinics/${clinicA}/..%2f${clinicB}/${tail}`,
      `clinics/${clinicA}//${tail}`,
      `clinics//${clinicA}/${tail}`,
      `clinics\\${clinicA}\\${tail}`,
      `clinics/${clinicA}\\..\\${clinicB}/${tail}`,
      `/${keyA}`,
      `${keyA}/`,
      `./${keyA}`,
      `clinics/${clinicA}/./${tail}`,
      `s3://bucket/${keyA}`,
      `${keyA}\u0000`,
      `${keyA} `,
      keyA.toUpperCase(),
      keyA.replace(/\//g, '\u2215'), // DIVISION SLASH
      keyA.replace(/\//g, '\uff0f'), // FULLWIDTH SOLIDUS
      keyA.replace('clinics', 'clinic\u0455'), // Cyrillic dze looks like s
      keyA.replace(/-/g, '\u2010'), // HYPHEN looks like -
      keyA.replace(/a/g, '\u0430'), // Cyrillic a
      `clinics/${clinicA}/patients/${patient}/${doc}`,
      `${keyA}/${att}`,
      '',
    ];
    for (const key of tricks) await expectOutcome(() => assertKeyInClinic(key, clinicA), 403);
    for (const notAString of [undefined, null, 42, { toString: () => keyA }]) {
      await expectOutcome(() => assertKeyInClinic(notAString, clinicA), 403);
    }
  });

  it('refuses when the clinic id itself is not a UUID (no prefix matching on garbage)', async () => {
    await expectOutcome(() => assertKeyInClinic(keyA, ''), 403);
    await expectOutcome(() => assertKeyInClinic(keyA, clinicA.slice(0, 8)), 403);
  });

  it('assertValidKey refuses anything the server would not build', async () => {
    assertValidKey(keyA);
    await expectOutcome(() => assertValidKey(`${keyA}/../x`), 400);
  });

  it('list prefixes must start at a clinic and stop at a whole segment', async () => {
    for (const ok of [`clinics/${clinicA}/`, `clinics/${clinicA}/patients/`, `clinics/${clinicA}/patients/${patient}/`, `clinics/${clinicA}/patients/${patient}/${doc}/`]) {
      expect(assertPrefixInClinicShape(ok)).to.equal(ok);
    }
    for (const bad of ['', 'clinics/', `clinics/${clinicA}`, `clinics/${clinicA}/pat`, `clinics/${clinicA}/../`, `clinics/${clinicA}//`, keyA, `${keyA}/`]) {
      await expectOutcome(() => assertPrefixInClinicShape(bad), 400);
    }
  });

  describe('signed links', () => {
    it("accepts a path-style or virtual-host link to the caller's clinic", () => {
      expect(assertSignedUrlInClinic(`http://127.0.0.1:9000/documents/${keyA}${signedQuery}`, clinicA, 'documents').attachmentId).to.equal(att);
      expect(assertSignedUrlInClinic(`https://documents.s3.eu-west-1.amazonaws.com/${keyA}${signedQuery}`, clinicA, 'documents').clinicId).to.equal(clinicA);
    });

    it("refuses a link to another clinic's key", async () => {
      await expectOutcome(() => assertSignedUrlInClinic(`http://127.0.0.1:9000/documents/${keyB}${signedQuery}`, clinicA), 403);
    });

    it('refuses a link whose parsed path differs from its text (backslash in the authority)', async () => {
      // WHATWG parsing turns a backslash into `/`, so the text shows no bucket but the request would carry one.
      const url = `http://127.0.0.1:9000\\documents/${keyA}${signedQuery}`;
      expect(new URL(url).pathname).to.equal(`/documents/${keyA}`);
      await expectOutcome(() => assertSignedUrlInClinic(url, clinicA), 403);
    });

    it('refuses links whose path is rewritten by URL parsing or encoded', async () => {
      const base = 'http://127.0.0.1:9000/documents';
      const tail = `patients/${patient}/${doc}/${att}`;
      for (const url of [
        `${base}/clinics/${clinicA}/../${clinicB}/${tail}${signedQuery}`,
        `${base}/clinics/${clinicA}/%2e%2e/${clinicB}/${tail}${signedQuery}`,
        `${base}/clinics/${clinicA}/%2E%2E/${clinicB}/${tail}${signedQuery}`,
        `${base}/clinics/${clinicB}/${tail.replace('patients', '%70atients')}${signedQuery}`,
        `${base}/x/../clinics/${clinicA}/${tail}${signedQuery}`,
        `${base}//clinics/${clinicA}/${tail}${signedQuery}`,
        `${base}\\clinics/${clinicA}/${tail}${signedQuery}`,
        `http://127.0.0.1:9000/other-bucket/${keyA}${signedQuery}`,
        `http://user:pw@127.0.0.1:9000/documents/${keyA}${signedQuery}`,
        `file:///documents/${keyA}${signedQuery}`,
        `${base}/${keyA}#frag${signedQuery}`,
        `${base}/${keyA}`, // not signed
        `${base}/${keyA}${signedQuery}&X-Amz-Signature=${'b'.repeat(64)}`,
        `${base}/${keyA.replace(/\//g, '\uff0f')}${signedQuery}`,
        'not a url',
      ]) {
        await expectOutcome(() => assertSignedUrlInClinic(url, clinicA, 'documents'), 403);
      }
    });
  });
});
