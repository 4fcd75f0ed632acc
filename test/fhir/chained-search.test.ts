import { expect } from 'chai';
import { auditEvents } from '../helpers/audit';
import { appointmentBody, created, medicationRequestBody, searchIds } from '../helpers/resources';
import { actor, admin, api, FHIR, patientBody } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;
const uniq = () => Math.random().toString(36).slice(2, 8);
const practitioner = (family: string) => ({ resourceType: 'Practitioner', name: [{ family, given: ['Pat'] }], active: true });

/** The answer to a search that should be refused, with the refusal's diagnostics. */
async function refused(who: Actor, path: string, headers: Record<string, string> = {}) {
  const res = await (await api()).get(path).set(who.auth).set(headers);
  expect(res.body.resourceType, res.text.slice(0, 300)).to.equal('OperationOutcome');
  return { status: res.status, diagnostics: String(res.body.issue?.[0]?.diagnostics ?? '') };
}

describe('Chained search and _has', () => {
  let doc: Actor;
  let smith: string; // family names unique to this run, so other tests' rows never match
  let jones: string;
  const id: Record<string, string> = {};

  before(async () => {
    doc = await actor('clinic-admin');
    smith = `Smith${uniq()}`;
    jones = `Jones${uniq()}`;
    id.quill = await created(doc.auth, 'Practitioner', practitioner(`Quill${smith}`));
    id.marsh = await created(doc.auth, 'Practitioner', practitioner(`Marsh${smith}`));
    id.ann = await created(doc.auth, 'Patient', patientBody(smith, {
      identifier: [{ system: 'urn:mrn', value: `MRN-${smith}` }],
      generalPractitioner: [{ reference: `Practitioner/${id.quill}` }],
    }));
    id.bob = await created(doc.auth, 'Patient', patientBody(jones, { identifier: [{ system: 'urn:mrn', value: `MRN-${jones}` }] }));
    id.annVisit = await created(doc.auth, 'Appointment', appointmentBody(id.ann, {
      participant: [{ actor: { reference: `Patient/${id.ann}` }, status: 'accepted' }, { actor: { reference: `Practitioner/${id.quill}` }, status: 'accepted' }],
    }));
    id.bobVisit = await created(doc.auth, 'Appointment', appointmentBody(id.bob, {
      status: 'pending',
      participant: [{ actor: { reference: `Patient/${id.bob}` }, status: 'accepted' }, { actor: { reference: `Practitioner/${id.marsh}` }, status: 'accepted' }],
    }));
    id.annRx = await created(doc.auth, 'MedicationRequest', medicationRequestBody(id.ann));
    id.bobRx = await created(doc.auth, 'MedicationRequest', medicationRequestBody(id.bob, { status: 'on-hold' }));
  });

  const find = (type: string, q: string, who: Actor = doc) => searchIds(who.auth, type, q);
  const sorted = (...keys: string[]) => keys.map((k) => id[k]).sort();

  it('the unchained searches find both rows of each type (so a chain that were ignored would fail below)', async () => {
    expect(await find('Appointment', '_count=100&date=2026-03-10')).to.include.members(sorted('annVisit', 'bobVisit'));
    expect(await find('MedicationRequest', '_count=100&authoredon=2026-01-15')).to.include.members(sorted('annRx', 'bobRx'));
    expect(await find('Patient', `family=${smith},${jones}`)).to.deep.equal(sorted('ann', 'bob'));
  });

  it('Appointment?patient.family=x finds only the appointments of patients with that family name', async () => {
    expect(await find('Appointment', `patient.family=${smith}`)).to.deep.equal(sorted('annVisit'));
    expect(await find('Appointment', `patient:Patient.family=${jones}`)).to.deep.equal(sorted('bobVisit'));
    expect(await find('Appointment', `patient.family=${smith},${jones}`)).to.deep.equal(sorted('annVisit', 'bobVisit'));
    expect(await find('Appointment', `patient.family=${smith}&status=pending`)).to.deep.equal([]);
  });

  it('MedicationRequest?subject:Patient.identifier=system|value finds the prescriptions of that patient', async () => {
    expect(await find('MedicationRequest', `subject:Patient.identifier=urn:mrn|MRN-${jones}`)).to.deep.equal(sorted('bobRx'));
    expect(await find('MedicationRequest', `patient.identifier=urn:mrn|MRN-${smith}`)).to.deep.equal(sorted('annRx'));
    expect(await find('MedicationRequest', 'subject:Patient.identifier=urn:mrn|nobody')).to.deep.equal([]);
  });

  it('chains into Practitioner: Appointment?practitioner.family, actor:Practitioner.name, Patient?general-practitioner.family', async () => {
    expect(await find('Appointment', `practitioner.family=Quill${smith}`)).to.deep.equal(sorted('annVisit'));
    expect(await find('Appointment', `actor:Practitioner.name=Marsh${smith}`)).to.deep.equal(sorted('bobVisit'));
    expect(await find('Patient', `general-practitioner.family=Quill${smith}`)).to.deep.equal(sorted('ann'));
    expect(await find('Patient', `general-practitioner._id=${id.marsh}`)).to.deep.equal([]);
  });

  it('an untyped chain on a reference with several served targets searches each of them', async () => {
    // actor points at Patients and Practitioners: `name` is a parameter of both.
    expect(await find('Appointment', `actor.name=Marsh${smith}`)).to.deep.equal(sorted('bobVisit'));
    expect(await find('Appointment', `actor.name=${smith}`)).to.deep.equal(sorted('annVisit'));
  });

  it('Patient?_has:Appointment:patient:status=booked finds the patients with a booked appointment', async () => {
    const ours = `family=${smith},${jones}`;
    expect(await find('Patient', `${ours}&_has:Appointment:patient:status=booked`)).to.deep.equal(sorted('ann'));
    expect(await find('Patient', `${ours}&_has:Appointment:patient:status=pending`)).to.deep.equal(sorted('bob'));
    expect(await find('Patient', `${ours}&_has:MedicationRequest:subject:status=on-hold`)).to.deep.equal(sorted('bob'));
    expect(await find('Patient', `${ours}&_has:MedicationRequest:subject:status:not=on-hold`)).to.deep.equal(sorted('ann'));
    expect(await find('Practitioner', `_has:Appointment:practitioner:status=pending&family=Marsh${smith},Quill${smith}`)).to.deep.equal(sorted('marsh'));
  });

  it('AuditEvent?patient.family=x finds the same events as AuditEvent?patient=<that patient>', async () => {
    // Each search is itself audited: compare only the events recorded before the first one.
    const before = `date=lt${encodeURIComponent(new Date().toISOString())}&_count=1000`;
    const direct = await find('AuditEvent', `patient=${id.bob}&${before}`);
    expect(direct.length).to.be.greaterThan(0);
    expect(await find('AuditEvent', `patient.family=${jones}&${before}`)).to.deep.equal(direct);
    expect(await find('AuditEvent', before)).to.not.deep.equal(direct);
  });

  it('POST _search, _total=accurate and _summary=count give the same chained answer as GET', async () => {
    const a = await api();
    const posted = await a.post('/fhir/Appointment/_search').set(doc.auth).type('form').send(`patient.family=${smith}`);
    expect(posted.status, posted.text.slice(0, 300)).to.equal(200);
    expect(posted.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal([id.annVisit]);
    const total = await a.get(`/fhir/Appointment?patient.family=${smith}&_total=accurate`).set(doc.auth);
    expect(total.body.total).to.equal(1);
    const counted = await a.get(`/fhir/Patient?_has:Appointment:patient:status=booked&family=${smith},${jones}&_summary=count`).set(doc.auth);
    expect(counted.body.total).to.equal(1);
  });

  it('a conditional delete by a chained criterion deletes only what the chain selects', async () => {
    const victim = await created(doc.auth, 'Patient', patientBody(`Gone${smith}`));
    const rx = await created(doc.auth, 'MedicationRequest', medicationRequestBody(victim));
    const res = await (await api()).delete(`/fhir/MedicationRequest?subject:Patient.family=Gone${smith}`).set(doc.auth);
    expect(res.status, res.text).to.be.oneOf([200, 204]);
    expect((await (await api()).get(`/fhir/MedicationRequest/${rx}`).set(doc.auth)).status).to.equal(410);
    expect((await (await api()).get(`/fhir/MedicationRequest/${id.annRx}`).set(doc.auth)).status).to.equal(200);
  });

  it("a chain into a type the role may not search is refused with 403 and the refusal is audited", async () => {
    const desk = await actor('front-desk', 'user/*.cruds', doc.clinic);
    // front-desk searches patients and appointments, but not prescriptions.
    expect(await find('Appointment', `patient.family=${smith}`, desk)).to.deep.equal(sorted('annVisit'));
    const has = await refused(desk, `/fhir/Patient?_has:MedicationRequest:subject:status=active`);
    expect(has.status).to.equal(403);
    const officer = await actor('compliance-officer', 'user/*.cruds', doc.clinic);
    const chain = await refused(officer, `/fhir/AuditEvent?patient.family=${smith}`);
    expect(chain.status).to.equal(403);
    const events = await auditEvents((q) => q.whereIn('user_id', [desk.user, officer.user]).where({ outcome: '4' }));
    expect(events.map((e) => e.subtype?.[0].code).sort()).to.deep.equal(['search-type', 'search-type']);
  });

  it('a chain through scopes: a token without a Patient scope cannot chain into Patient', async () => {
    const narrow = await actor('doctor', 'user/Appointment.rs', doc.clinic);
    expect(await find('Appointment', `status=booked&date=2026-03-10&_count=1`, narrow)).to.have.length(1);
    expect((await refused(narrow, `/fhir/Appointment?patient.family=${smith}`)).status).to.equal(403);
  });

  it("clinic isolation: clinic B's patients with the same name never pull clinic B's rows, nor A's rows pointing at them", async () => {
    const other = await actor('clinic-admin');
    const twin = await created(other.auth, 'Patient', patientBody(smith));
    const twinVisit = await created(other.auth, 'Appointment', appointmentBody(twin));
    expect(await find('Appointment', `patient.family=${smith}`, other)).to.deep.equal([twinVisit]);
    expect(await find('Appointment', `patient.family=${smith}`)).to.deep.equal(sorted('annVisit'));
    // A row of clinic A naming clinic B's patient (planted in the search index, past the API): B's patient stays invisible to A through the chain.
    const db = await admin();
    const planted = { clinic_id: doc.clinic, id: id.bobVisit, patient_id: id.bob, param: 'patient', value: `Patient/${twin}` };
    await db('appointment_search').insert(planted);
    try {
      expect(await find('Appointment', `patient=${twin}`)).to.deep.equal(sorted('bobVisit')); // the planted reference is there
      expect(await find('Appointment', `patient.family=${smith}`)).to.deep.equal(sorted('annVisit'));
    } finally {
      await db('appointment_search').where(planted).delete();
    }
    expect(await find('Patient', `_has:Appointment:patient:status=booked&family=${smith}`, other)).to.deep.equal([twin]);
  });

  it('a patient/ token chains only within its own compartment', async () => {
    const self = await actor('doctor', 'patient/*.rs', doc.clinic, id.ann);
    expect(await find('Appointment', `patient.family=${smith}`, self)).to.deep.equal(sorted('annVisit'));
    expect(await find('Appointment', `patient.family=${jones}`, self)).to.deep.equal([]);
  });

  describe('bad input: a clear 400 naming the parameter, nothing changed', () => {
    const cases: Array<[string, string, string]> = [
      ['a chain on a token parameter', 'Appointment?status.family=x', 'status'],
      ['a chain of two levels', 'Appointment?patient.general-practitioner.family=x', 'more than one level'],
      ['a _has inside a chain', 'Appointment?patient._has:Appointment:patient:status=booked', 'more than one level'],
      ['a nested _has', 'Patient?_has:Appointment:patient:_has:Appointment:patient:status=booked', 'more than one level'],
      ['a _has through a token parameter', 'Patient?_has:Appointment:status:status=booked', 'Appointment.status'],
      ['a malformed _has', 'Patient?_has:Appointment=booked', '_has'],
      ['a chain into a type that is not served', 'MedicationRequest?medication.code=x', 'medication'],
      ['a chain to an unknown parameter of the target', 'Appointment?patient.colour=blue', 'colour'],
      ['a chain through an unknown parameter', 'Appointment?doctor.family=x', 'doctor'],
      ['a _has from a type not served', 'Patient?_has:Observation:subject:code=x', 'Observation'],
      ['a _has through a reference that does not point here', 'Practitioner?_has:MedicationRequest:subject:status=active', 'subject'],
      ['a type modifier the reference cannot point at', 'Appointment?patient:Practitioner.family=x', 'Practitioner'],
      ['an untargeted reference (AuditEvent.entity)', 'AuditEvent?entity.family=x', 'entity'],
    ];
    for (const [what, path, named] of cases) {
      it(`${what} (${path}) gets 400`, async () => {
        const r = await refused(doc, `/fhir/${path}`);
        expect(r.status).to.equal(400);
        expect(r.diagnostics).to.contain(named);
      });
    }

    it('under Prefer: handling=lenient an unsupported chain is ignored and reported; a malformed one is still 400', async () => {
      const res = await (await api()).get(`/fhir/Appointment?patient.colour=blue&_id=${id.annVisit}`).set(doc.auth).set('Prefer', 'handling=lenient');
      expect(res.status).to.equal(200);
      const outcome = res.body.entry.find((e: { search: { mode: string } }) => e.search.mode === 'outcome');
      expect(outcome.resource.issue[0].diagnostics).to.contain('patient.colour');
      expect((await refused(doc, '/fhir/Appointment?status.family=x', { Prefer: 'handling=lenient' })).status).to.equal(400);
    });

    it('SQL in a chained value is a value, not SQL', async () => {
      expect(await find('Appointment', `patient.family=${encodeURIComponent("x' or 1=1 --")}`)).to.deep.equal([]);
      expect(await find('Patient', `_has:Appointment:patient:status=${encodeURIComponent("booked') or true --")}`)).to.deep.equal([]);
    });

    it('a refused chain is audited once as a refused search', async () => {
      const who = await actor('clinic-admin');
      const r = await (await api()).get('/fhir/Appointment?status.family=x').set(who.auth).set('Content-Type', FHIR);
      expect(r.status).to.equal(400);
      const events = await auditEvents((q) => q.where({ user_id: who.user }));
      expect(events.map((e) => `${e.subtype?.[0].code}:${e.outcome}`)).to.deep.equal(['search-type:4']);
    });
  });
});
