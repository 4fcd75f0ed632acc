import { expect } from 'chai';
import { auditOf } from '../helpers/audit';
import { appointmentBody, created, medicationRequestBody } from '../helpers/resources';
import { actor, admin, api, patientBody } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;
type Entry = { fullUrl?: string; resource: { resourceType: string; id: string; issue?: Array<{ diagnostics: string }> }; search: { mode: string } };
const uniq = () => Math.random().toString(36).slice(2, 10);

async function searchset(who: Actor, path: string, headers: Record<string, string> = {}) {
  const res = await (await api()).get(path).set(who.auth).set(headers);
  expect(res.status, res.text).to.equal(200);
  const entries = (res.body.entry ?? []) as Entry[];
  const mode = (m: string) => entries.filter((e) => e.search.mode === m).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();
  return { body: res.body, matches: mode('match'), includes: mode('include'), outcome: entries.find((e) => e.search.mode === 'outcome')?.resource };
}

describe('_include and _revinclude', () => {
  let doc: Actor;
  let family: string;
  let p1: string;
  let p2: string;
  let appt: string;
  let mr1: string;
  let mr2: string;

  before(async () => {
    doc = await actor('doctor');
    family = `Inc${uniq()}`;
    p1 = await created(doc.auth, 'Patient', patientBody(family, { birthDate: '1970-01-01' }));
    p2 = await created(doc.auth, 'Patient', patientBody(family, { birthDate: '1990-01-01' }));
    // One appointment for both patients: it sits in p1's compartment (its first patient), and names p2 too.
    appt = await created(doc.auth, 'Appointment', appointmentBody(p1, {
      participant: [{ actor: { reference: `Patient/${p1}` }, status: 'accepted' }, { actor: { reference: `Patient/${p2}` }, status: 'accepted' }],
    }));
    mr1 = await created(doc.auth, 'MedicationRequest', medicationRequestBody(p1));
    mr2 = await created(doc.auth, 'MedicationRequest', medicationRequestBody(p2));
  });

  it('Appointment?_include=Appointment:patient adds the patients it names, with search.mode include', async () => {
    const r = await searchset(doc, `/fhir/Appointment?_id=${appt}&_include=Appointment:patient`);
    expect(r.matches).to.deep.equal([`Appointment/${appt}`]);
    expect(r.includes).to.deep.equal([`Patient/${p1}`, `Patient/${p2}`].sort());
    expect(r.outcome).to.equal(undefined);
  });

  it('Patient?_revinclude=MedicationRequest:subject adds the prescriptions that point at the matches', async () => {
    const r = await searchset(doc, `/fhir/Patient?family=${family}&_revinclude=MedicationRequest:subject&_revinclude=Appointment:patient`);
    expect(r.matches).to.deep.equal([`Patient/${p1}`, `Patient/${p2}`].sort());
    expect(r.includes).to.deep.equal([`Appointment/${appt}`, `MedicationRequest/${mr1}`, `MedicationRequest/${mr2}`].sort());
  });

  it('a type the role may not read is withheld, said so in an OperationOutcome, and the refusal is audited', async () => {
    const desk = await actor('front-desk', 'user/*.cruds', doc.clinic);
    const r = await searchset(desk, `/fhir/Patient?_id=${p1}&_revinclude=MedicationRequest:subject&_revinclude=Appointment:patient`);
    expect(r.matches).to.deep.equal([`Patient/${p1}`]);
    expect(r.includes).to.deep.equal([`Appointment/${appt}`]);
    expect(r.outcome?.issue?.[0].diagnostics).to.contain('withheld').and.to.contain('MedicationRequest');
    const events = await auditOf(desk.user);
    expect(events.map((e) => `${e.subtype}:${e.outcome}`).sort()).to.deep.equal(['search-type:0', 'search-type:4']);
    expect(events.find((e) => e.outcome === '4')?.entity).to.equal('MedicationRequest');
  });

  it('includes that would cross a clinic leak nothing, even when a row claims the other clinic\'s patient', async () => {
    const b = await actor('doctor');
    const pb = await created(b.auth, 'Patient', patientBody('Other'));
    const mrB = await created(b.auth, 'MedicationRequest', medicationRequestBody(pb));
    // Simulate a bug that let clinic B's prescription point at clinic A's patient.
    await (await admin())('medication_request').where({ id: mrB }).update({
      version_id: 2, resource: JSON.stringify({ ...medicationRequestBody(p1), id: mrB, meta: { versionId: '2' } }),
      sp_subject: [`Patient/${p1}`, p1], sp_patient: [`Patient/${p1}`, p1],
    });
    const fromA = await searchset(doc, `/fhir/Patient?_id=${p1}&_revinclude=MedicationRequest:subject`);
    expect(fromA.includes).to.deep.equal([`MedicationRequest/${mr1}`]);
    const fromB = await searchset(b, `/fhir/MedicationRequest?_id=${mrB}&_include=MedicationRequest:subject`);
    expect(fromB.matches).to.deep.equal([`MedicationRequest/${mrB}`]);
    expect(fromB.includes).to.deep.equal([]);
  });

  it('includes that would cross the patient compartment leak nothing (patient/ token)', async () => {
    const patient = await actor('doctor', 'patient/*.rs', doc.clinic, p1);
    const appts = await searchset(patient, '/fhir/Appointment?_include=Appointment:patient');
    expect(appts.matches).to.deep.equal([`Appointment/${appt}`]);
    expect(appts.includes).to.deep.equal([`Patient/${p1}`]);
    const pats = await searchset(patient, `/fhir/Patient?_revinclude=MedicationRequest:subject`);
    expect(pats.matches).to.deep.equal([`Patient/${p1}`]);
    expect(pats.includes).to.deep.equal([`MedicationRequest/${mr1}`]);
  });

  it('a token that reaches prescriptions only through patient/ scopes gets only its patient\'s as includes', async () => {
    const mixed = await actor('doctor', 'user/Patient.rs patient/MedicationRequest.rs', doc.clinic, p1);
    const r = await searchset(mixed, `/fhir/Patient?family=${family}&_revinclude=MedicationRequest:subject`);
    expect(r.matches).to.deep.equal([`Patient/${p1}`, `Patient/${p2}`].sort());
    expect(r.includes).to.deep.equal([`MedicationRequest/${mr1}`]);
  });

  it('includes follow the page; the next link works for its user and is refused to another', async () => {
    const first = await searchset(doc, `/fhir/Patient?family=${family}&_sort=birthdate&_count=1&_revinclude=MedicationRequest:subject`);
    expect(first.matches).to.deep.equal([`Patient/${p1}`]);
    expect(first.includes).to.deep.equal([`MedicationRequest/${mr1}`]);
    const next = new URL((first.body.link as Array<{ relation: string; url: string }>).find((l) => l.relation === 'next')?.url ?? '');
    const second = await searchset(doc, next.pathname + next.search);
    expect(second.matches).to.deep.equal([`Patient/${p2}`]);
    expect(second.includes).to.deep.equal([`MedicationRequest/${mr2}`]);
    const colleague = await actor('doctor', 'user/*.cruds', doc.clinic);
    const replay = await (await api()).get(next.pathname + next.search).set(colleague.auth);
    expect(replay.status).to.equal(400);
    expect(replay.body.resourceType).to.equal('OperationOutcome');
  });

  it('unsupported includes are refused with 400 by default, and reported and ignored under Prefer: handling=lenient', async () => {
    for (const q of ['_include=Patient:organization', '_include=*', '_include:iterate=Patient:organization', '_revinclude=Spaceship:patient', '_include=Appointment:patient']) {
      const lenient = await searchset(doc, `/fhir/Patient?_id=${p1}&${q}`, { Prefer: 'handling=lenient' });
      expect(lenient.matches, q).to.deep.equal([`Patient/${p1}`]);
      expect(lenient.includes, q).to.deep.equal([]);
      expect(lenient.outcome?.issue?.[0].diagnostics, q).to.contain('not supported');
      const strict = await (await api()).get(`/fhir/Patient?_id=${p1}&${q}`).set(doc.auth);
      expect(strict.status, q).to.equal(400);
    }
  });

  it('the CapabilityStatement lists exactly these includes per type', async () => {
    const res = await (await api()).get('/fhir/metadata');
    const rest = JSON.parse(res.text).rest[0];
    const patient = rest.resource.find((r: { type: string }) => r.type === 'Patient');
    const appointment = rest.resource.find((r: { type: string }) => r.type === 'Appointment');
    expect(appointment.searchInclude).to.include('Appointment:patient');
    expect(patient.searchRevInclude).to.include.members(['MedicationRequest:subject', 'Appointment:patient', 'DocumentReference:subject']);
    // Practitioner is served, Organization is not.
    expect(patient.searchInclude).to.include('Patient:general-practitioner');
    expect(patient.searchInclude).to.not.include('Patient:organization');
    expect(patient).to.include({ conditionalCreate: true, conditionalUpdate: true, conditionalDelete: 'single' });
    expect(rest.interaction.map((i: { code: string }) => i.code).sort()).to.deep.equal(['batch', 'history-system', 'transaction']);
  });
});
