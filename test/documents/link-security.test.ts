import { expect } from 'chai';
import { actor, api, newUser, tokenFor } from '../helpers/server';
import { newPatient } from '../helpers/resources';
import {
  attachmentOf, binaryId, createdDoc, docBody, fetchLink, inline, isSignedLink, type Json, linkAudits, samplePdf, secondApp, uploadBinary,
} from './http-helpers';

describe('documents over HTTP: who gets a link, and what the store does with a bad one', () => {
  let a: Awaited<ReturnType<typeof actor>>;
  let b: Awaited<ReturnType<typeof actor>>;
  let patientA: string;
  let patientB: string;
  let docA: Json;
  let docB: Json;

  before(async () => {
    a = await actor('doctor');
    b = await actor('doctor');
    patientA = await newPatient(a.auth, 'A');
    patientB = await newPatient(b.auth, 'B');
    docA = await createdDoc(a.auth, docBody(patientA, inline(samplePdf())));
    docB = await createdDoc(b.auth, docBody(patientB, inline(samplePdf())));
  });

  async function linkOf(auth: Record<string, string>, id: unknown): Promise<string> {
    const res = await (await api()).get(`/fhir/DocumentReference/${String(id)}`).set(auth);
    expect(res.status).to.equal(200);
    const url = attachmentOf(res.body).url as string;
    expect(isSignedLink(url), url).to.equal(true);
    return url;
  }

  it("clinic A's link re-pathed to clinic B's object (which exists) is refused by the store: 403", async () => {
    const linkA = await linkOf(a.auth, docA.id);
    const linkB = await linkOf(b.auth, docB.id);
    expect((await fetchLink(linkB)).status, "B's own link works").to.equal(200);
    const keyA = new URL(linkA).pathname;
    const keyB = new URL(linkB).pathname;
    expect(keyA).to.include(`/clinics/${a.clinic}/`);
    const repathed = linkA.replace(keyA, keyB);
    expect(repathed).to.include(`/clinics/${b.clinic}/patients/${patientB}/`);
    const res = await fetchLink(repathed);
    expect(res.status).to.equal(403);
    expect(res.body.toString()).to.match(/<Code>(AccessDenied|SignatureDoesNotMatch)<\/Code>/).and.to.not.include('%PDF');
    // Only the clinic segment changed: same refusal.
    expect((await fetchLink(linkA.replace(`/clinics/${a.clinic}/`, `/clinics/${b.clinic}/`))).status).to.equal(403);
  });

  it('a tampered signature, a longer lifetime, or the signature removed are refused: 403', async () => {
    const link = await linkOf(a.auth, docA.id);
    const sig = /X-Amz-Signature=([0-9a-f]{64})/.exec(link)?.[1] as string;
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
    expect((await fetchLink(link.replace(sig, flipped))).status).to.equal(403);
    expect((await fetchLink(link.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604800'))).status).to.equal(403);
    expect((await fetchLink(link.split('?')[0])).status).to.equal(403);
  });

  it('a link past its lifetime is refused by the store (DOCUMENT_LINK_TTL=2 on a second app)', async function () {
    this.timeout(20_000);
    const short = await secondApp({ DOCUMENT_LINK_TTL: '2' });
    try {
      const doc = await createdDoc(a.auth, docBody(patientA, inline(samplePdf())), short.agent);
      const res = await short.agent.get(`/fhir/DocumentReference/${String(doc.id)}`).set(a.auth);
      const att = attachmentOf(res.body);
      expect(String(att.url)).to.match(/X-Amz-Expires=2&|X-Amz-Expires=2$/);
      expect((await fetchLink(att.url as string)).status, 'fresh').to.equal(200);
      await new Promise((r) => setTimeout(r, 3200));
      const late = await fetchLink(att.url as string);
      expect(late.status, 'expired').to.equal(403);
      expect(late.body.toString()).to.not.include('%PDF');
    } finally {
      await short.close();
    }
  });

  it('a front-desk token gets 403 and no link: not on read, search, Binary read or upload', async () => {
    const desk = await actor('front-desk', 'user/*.cruds', a.clinic);
    const ag = await api();
    const read = await ag.get(`/fhir/DocumentReference/${String(docA.id)}`).set(desk.auth);
    expect(read.status).to.equal(403);
    const search = await ag.get(`/fhir/DocumentReference?patient=${patientA}`).set(desk.auth);
    expect(search.status).to.equal(403);
    const binary = String(attachmentOf(docA).url).slice('Binary/'.length);
    const direct = await ag.get(`/fhir/Binary/${binary}`).set(desk.auth).redirects(0);
    expect(direct.status).to.equal(403);
    expect(direct.headers.location).to.equal(undefined);
    const rev = await ag.get(`/fhir/Patient?_id=${patientA}&_revinclude=DocumentReference:subject`).set(desk.auth);
    expect(rev.status).to.equal(200);
    for (const text of [read.text, search.text, direct.text, rev.text]) expect(text).to.not.match(/X-Amz-Signature/);
    expect((await uploadBinary(desk.auth, patientA, samplePdf(), 'application/pdf')).status).to.equal(403);
    // Its refusals are audited (outcome 4); no link was handed out (outcome 0).
    const mine = (await linkAudits(binary)).filter((e) => e.agent === desk.user);
    expect(mine.map((e) => e.outcome)).to.deep.equal(['4']);
  });

  it('a patient token gets links for its own documents only', async () => {
    const patientA = await newPatient(a.auth, 'Me');
    const docA = await createdDoc(a.auth, docBody(patientA, inline(samplePdf())));
    const neighbour = await newPatient(a.auth, 'Neighbour');
    const theirs = await createdDoc(a.auth, docBody(neighbour, inline(samplePdf())));
    const theirBinary = String(attachmentOf(theirs).url).slice('Binary/'.length);
    const user = await newUser(a.clinic, 'doctor');
    const me = { Authorization: `Bearer ${await tokenFor({ clinicId: a.clinic, userId: user, scope: 'patient/*.rs', patientId: patientA })}` };
    const ag = await api();

    const own = await linkOf(me, docA.id);
    expect((await fetchLink(own)).status).to.equal(200);
    const other = await ag.get(`/fhir/DocumentReference/${String(theirs.id)}`).set(me);
    expect(other.status).to.equal(404);
    const all = await ag.get('/fhir/DocumentReference').set(me);
    const resources = ((all.body.entry ?? []) as Json[]).map((e) => e.resource as Json).filter((r) => r.resourceType === 'DocumentReference');
    expect(resources.map((r) => r.id)).to.deep.equal([docA.id]);
    expect(isSignedLink(attachmentOf(resources[0]).url)).to.equal(true);
    expect(all.text).to.not.include(neighbour);
    expect((await ag.get(`/fhir/Binary/${theirBinary}`).set(me).redirects(0)).status).to.equal(404);
    expect((await linkAudits(theirBinary)).filter((e) => e.outcome === '0')).to.deep.equal([]);
    // Nor can it store a document for the neighbour.
    const upload = await uploadBinary({ Authorization: `Bearer ${await tokenFor({ clinicId: a.clinic, userId: user, scope: 'patient/*.cruds', patientId: patientA })}` }, neighbour, samplePdf(), 'application/pdf');
    expect(upload.status).to.equal(403);
  });

  it('a search-only grant lists documents but gets no links (the stable Binary reference only)', async () => {
    const searcher = { Authorization: `Bearer ${await tokenFor({ clinicId: a.clinic, userId: a.user, scope: 'user/DocumentReference.s' })}` };
    const res = await (await api()).get(`/fhir/DocumentReference?_id=${String(docA.id)}`).set(searcher);
    expect(res.status).to.equal(200);
    expect(attachmentOf(res.body.entry[0].resource).url).to.equal(attachmentOf(docA).url);
    expect(res.text).to.not.match(/X-Amz-Signature/);
    expect((await (await api()).get(`/fhir/${String(attachmentOf(docA).url)}`).set(searcher).redirects(0)).status).to.equal(403);
  });

  it('a Binary id of clinic B read with a clinic A token is simply not found (404)', async () => {
    const theirs = await binaryId(b.auth, patientB, samplePdf());
    const res = await (await api()).get(`/fhir/Binary/${theirs}`).set(a.auth).redirects(0);
    expect(res.status).to.equal(404);
    expect(res.headers.location).to.equal(undefined);
  });
});
