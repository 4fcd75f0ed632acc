import { expect } from 'chai';
import { actor } from '../helpers/server';
import { created, documentReferenceBody, newPatient, PDF_BASE64, searchIds } from '../helpers/resources';

const LOINC = 'http://loinc.org';
const PNG_BASE64 = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).toString('base64');

describe('DocumentReference search', () => {
  let auth: Record<string, string>;
  let ann: string;
  let bob: string;
  const ids: Record<string, string> = {};
  const find = (q: string) => searchIds(auth, 'DocumentReference', q);
  const sorted = (...keys: string[]) => keys.map((k) => ids[k]).sort();

  before(async () => {
    ({ auth } = await actor('doctor'));
    ann = await newPatient(auth, 'Ann');
    bob = await newPatient(auth, 'Bob');
    ids.note = await created(auth, 'DocumentReference', documentReferenceBody(ann, {
      masterIdentifier: { system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.2.3.1' },
      identifier: [{ system: 'urn:docs', value: 'D-1' }],
      type: { coding: [{ system: LOINC, code: '34108-1' }] },
      category: [{ coding: [{ system: 'urn:classes', code: 'notes' }] }],
      date: '2026-02-03T08:00:00Z',
      author: [{ reference: 'Practitioner/dr-who' }],
      context: { period: { start: '2026-02-01T08:00:00Z', end: '2026-02-01T09:00:00Z' } },
    }));
    ids.scan = await created(auth, 'DocumentReference', documentReferenceBody(bob, {
      status: 'superseded',
      type: { coding: [{ system: LOINC, code: '18748-4' }] },
      date: '2025-06-30T12:00:00Z',
      author: [{ reference: `Patient/${bob}` }],
      content: [{ attachment: { contentType: 'image/png', data: PNG_BASE64 } }],
      context: { period: { start: '2025-06-01' } },
    }));
    ids.bare = await created(auth, 'DocumentReference', documentReferenceBody(ann, {
      type: undefined,
      content: [{ attachment: { contentType: 'application/pdf', data: PDF_BASE64 } }],
    }));
  });

  it('patient and subject match Patient/x and the bare id', async () => {
    expect(await find(`patient=Patient/${ann}`)).to.deep.equal(sorted('note', 'bare'));
    expect(await find(`patient=${bob}`)).to.deep.equal(sorted('scan'));
    expect(await find(`subject=Patient/${ann}`)).to.deep.equal(sorted('note', 'bare'));
    expect(await find(`subject=${bob}`)).to.deep.equal(sorted('scan'));
  });

  it('author is a reference to any author type; :missing finds the unattributed', async () => {
    expect(await find('author=Practitioner/dr-who')).to.deep.equal(sorted('note'));
    expect(await find(`author=Patient/${bob}`)).to.deep.equal(sorted('scan'));
    expect(await find(`author:Patient=${bob}`)).to.deep.equal(sorted('scan'));
    expect(await find('author:missing=true')).to.deep.equal(sorted('bare'));
  });

  it('identifier matches masterIdentifier and identifier', async () => {
    expect(await find(`identifier=${encodeURIComponent('urn:ietf:rfc:3986|urn:oid:1.2.3.1')}`)).to.deep.equal(sorted('note'));
    expect(await find('identifier=D-1')).to.deep.equal(sorted('note'));
  });

  it('type, category, status and contenttype are tokens', async () => {
    expect(await find('type=34108-1')).to.deep.equal(sorted('note'));
    expect(await find(`type=${encodeURIComponent(`${LOINC}|18748-4`)}`)).to.deep.equal(sorted('scan'));
    expect(await find('type:missing=true')).to.deep.equal(sorted('bare'));
    expect(await find(`category=${encodeURIComponent('urn:classes|notes')}`)).to.deep.equal(sorted('note'));
    expect(await find('status=current')).to.deep.equal(sorted('note', 'bare'));
    expect(await find(`status=${encodeURIComponent('http://hl7.org/fhir/document-reference-status|superseded')}`)).to.deep.equal(sorted('scan'));
    expect(await find('contenttype=image/png')).to.deep.equal(sorted('scan'));
    expect(await find(`contenttype=${encodeURIComponent('urn:ietf:bcp:13|application/pdf')}`)).to.deep.equal(sorted('note', 'bare'));
    expect(await find('contenttype:not=application/pdf')).to.deep.equal(sorted('scan'));
  });

  it('date honours prefixes on DocumentReference.date', async () => {
    expect(await find('date=2026-02-03')).to.deep.equal(sorted('note'));
    expect(await find('date=lt2026')).to.deep.equal(sorted('scan'));
    expect(await find('date:missing=true')).to.deep.equal(sorted('bare'));
  });

  it('period (context.period) compares as a range: eq inside, ge/le overlap, sa/eb strictly after/before, open ends', async () => {
    expect(await find('period=2026-02-01')).to.deep.equal(sorted('note'));
    expect(await find('period=2026-02-01T08:30:00Z')).to.deep.equal([]);
    expect(await find('period=ge2026-02-01T08:30:00Z')).to.deep.equal(sorted('note', 'scan'));
    expect(await find('period=le2025-06-15')).to.deep.equal(sorted('scan'));
    expect(await find('period=lt2026-02-01T08:00:00Z')).to.deep.equal(sorted('scan'));
    expect(await find('period=gt2026-02-01T09:00:00Z')).to.deep.equal(sorted('scan'));
    expect(await find('period=sa2026-01-31')).to.deep.equal(sorted('note'));
    expect(await find('period=eb2026-02-02')).to.deep.equal(sorted('note'));
    expect(await find('period:missing=true')).to.deep.equal(sorted('bare'));
  });
});
