import { expect } from 'chai';
import { auditOf } from '../helpers/audit';
import { appointmentBody, created, documentReferenceBody, medicationRequestBody, newPatient } from '../helpers/resources';
import { actor, api, newUser, tokenFor } from '../helpers/server';

type Auth = Record<string, string>;
type Entry = { fullUrl?: string; resource: Record<string, unknown> & { id: string; resourceType: string }; search: { mode: string } };

async function everything(auth: Auth, path: string) {
  const res = await (await api()).get(path).set(auth);
  return res;
}

const matches = (body: { entry?: Entry[] }) => (body.entry ?? []).filter((e) => e.search.mode === 'match');
const refs = (body: { entry?: Entry[] }) => matches(body).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();

describe('Patient/$everything', () => {
  let staff: Awaited<ReturnType<typeof actor>>;
  let me: string;
  let other: string;
  const mine: string[] = [];

  before(async () => {
    staff = await actor('clinic-admin');
    me = await newPatient(staff.auth, 'Everything');
    other = await newPatient(staff.auth, 'Neighbour');
    mine.push(`Patient/${me}`);
    mine.push(`Appointment/${await created(staff.auth, 'Appointment', appointmentBody(me))}`);
    mine.push(`Appointment/${await created(staff.auth, 'Appointment', appointmentBody(me, { status: 'cancelled' }))}`);
    mine.push(`MedicationRequest/${await created(staff.auth, 'MedicationRequest', medicationRequestBody(me))}`);
    mine.push(`DocumentReference/${await created(staff.auth, 'DocumentReference', documentReferenceBody(me))}`);
    await created(staff.auth, 'Appointment', appointmentBody(other));
    await created(staff.auth, 'DocumentReference', documentReferenceBody(other));
    mine.sort();
  });

  it("answers the patient and its whole compartment, documents with signed links, and nothing of another patient; audited as a read of that patient", async () => {
    const doctor = await actor('doctor', 'user/*.rs', staff.clinic);
    const res = await everything(doctor.auth, `/fhir/Patient/${me}/$everything`);
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    expect(res.body).to.include({ resourceType: 'Bundle', type: 'searchset', total: mine.length });
    expect(refs(res.body)).to.deep.equal(mine);
    const doc = matches(res.body).find((e) => e.resource.resourceType === 'DocumentReference')?.resource as unknown as { content: Array<{ attachment: { url: string } }> };
    expect(doc.content[0].attachment.url).to.match(/^http.*X-Amz-Signature=/);
    const link = await fetch(doc.content[0].attachment.url);
    expect(link.status).to.equal(200);
    expect(Buffer.from(await link.arrayBuffer()).toString('latin1')).to.match(/^%PDF-/);
    const trail = await auditOf(doctor.user);
    expect(trail[0]).to.include({ subtype: 'read', outcome: '0' });
    expect(trail[0].entity).to.include(`Patient/${me}`);
    expect(trail.some((e) => e.subtype === 'read' && e.entity.includes('Binary/'))).to.equal(true);
  });

  it('pages with _count through next links, and the pages together are the whole answer', async () => {
    let url: string | undefined = `/fhir/Patient/${me}/$everything?_count=2`;
    const seen: string[] = [];
    let pages = 0;
    while (url) {
      const res = await everything(staff.auth, url);
      expect(res.status, res.text.slice(0, 300)).to.equal(200);
      expect(matches(res.body).length).to.be.at.most(2);
      seen.push(...refs(res.body));
      const next = (res.body.link as Array<{ relation: string; url: string }>).find((l) => l.relation === 'next');
      url = next ? new URL(next.url).pathname + new URL(next.url).search : undefined;
      pages++;
    }
    expect(pages).to.equal(3);
    expect(seen.sort()).to.deep.equal(mine);
    const zero = await everything(staff.auth, `/fhir/Patient/${me}/$everything?_count=0`);
    expect(matches(zero.body)).to.deep.equal([]);
    expect((zero.body.link as Array<{ relation: string }>).map((l) => l.relation)).to.deep.equal(['self']);
  });

  it('_type narrows the types and _since leaves out what did not change after it', async () => {
    const res = await everything(staff.auth, `/fhir/Patient/${me}/$everything?_type=Appointment,MedicationRequest`);
    expect(refs(res.body)).to.deep.equal(mine.filter((r) => /^(Appointment|MedicationRequest)\//.test(r)));
    const later = await everything(staff.auth, `/fhir/Patient/${me}/$everything?_since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(later.status).to.equal(200);
    expect(matches(later.body)).to.deep.equal([]);
  });

  it('types the role may not read are left out, named in an OperationOutcome entry and audited as withheld', async () => {
    const desk = await actor('front-desk', 'user/*.rs', staff.clinic);
    const res = await everything(desk.auth, `/fhir/Patient/${me}/$everything`);
    expect(res.status).to.equal(200);
    expect(refs(res.body)).to.deep.equal(mine.filter((r) => /^(Patient|Appointment)\//.test(r)));
    const outcome = (res.body.entry as Entry[]).find((e) => e.search.mode === 'outcome');
    expect(JSON.stringify(outcome)).to.include('MedicationRequest').and.to.include('DocumentReference');
    const refused = (await auditOf(desk.user)).filter((e) => e.outcome === '4').map((e) => e.outcomeDesc);
    expect(refused).to.have.length(2);
    expect(refused.join(' ')).to.include('clinical.prescriptions').and.to.include('clinical.documents');
  });

  it('Patient/$everything with a patient/ token is its own patient; another patient is 404', async () => {
    const user = await newUser(staff.clinic, 'doctor');
    const auth = { Authorization: `Bearer ${await tokenFor({ clinicId: staff.clinic, userId: user, scope: 'patient/*.rs', patientId: me })}` };
    const res = await everything(auth, '/fhir/Patient/$everything');
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    expect(refs(res.body)).to.deep.equal(mine);
    expect((await everything(auth, `/fhir/Patient/${other}/$everything`)).status).to.equal(404);
  });

  it("refuses bad input with a 4xx OperationOutcome, audited: malformed _since, unknown _type, another clinic's patient, no patient at type level", async () => {
    const doctor = await actor('doctor', 'user/*.rs', staff.clinic);
    const stranger = await actor('clinic-admin');
    const cases: Array<[Auth, string, number]> = [
      [doctor.auth, `/fhir/Patient/${me}/$everything?_since=last-week`, 400],
      [doctor.auth, `/fhir/Patient/${me}/$everything?_type=Spaceship`, 400],
      [doctor.auth, `/fhir/Patient/${me}/$everything?_count=many`, 400],
      [doctor.auth, '/fhir/Patient/$everything', 400],
      [doctor.auth, `/fhir/Appointment/${me}/$everything`, 400],
      [stranger.auth, `/fhir/Patient/${me}/$everything`, 404],
    ];
    for (const [auth, path, status] of cases) {
      const res = await everything(auth, path);
      expect(res.status, path).to.equal(status);
      expect(res.body.resourceType, path).to.equal('OperationOutcome');
    }
    expect((await auditOf(doctor.user)).map((e) => e.outcome)).to.deep.equal(['4', '4', '4', '4', '4']);
    const [refusal] = await auditOf(stranger.user);
    expect(refusal).to.include({ subtype: 'read', action: 'R', outcome: '4', outcomeDesc: `Patient/${me} is not known` });
    expect(refusal.entity).to.include(`Patient/${me}`);
  });
});
