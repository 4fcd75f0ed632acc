import { expect } from 'chai';
import { actor, api } from '../helpers/server';
import { created, medicationRequestBody, newPatient, searchIds } from '../helpers/resources';

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

describe('MedicationRequest search', () => {
  let auth: Record<string, string>;
  let ann: string;
  let bob: string;
  const ids: Record<string, string> = {};
  const find = (q: string) => searchIds(auth, 'MedicationRequest', q);
  const sorted = (...keys: string[]) => keys.map((k) => ids[k]).sort();

  before(async () => {
    ({ auth } = await actor('doctor'));
    ann = await newPatient(auth, 'Ann');
    bob = await newPatient(auth, 'Bob');
    ids.amox = await created(auth, 'MedicationRequest', medicationRequestBody(ann, {
      identifier: [{ system: 'urn:rx', value: 'RX-1' }],
      medicationCodeableConcept: { coding: [{ system: RXNORM, code: '308182' }], text: 'Amoxicillin 250 MG' },
      authoredOn: '2026-01-15T10:30:00Z',
      requester: { reference: 'Practitioner/dr-who' },
      encounter: { reference: 'Encounter/visit-7' },
    }));
    ids.ibu = await created(auth, 'MedicationRequest', medicationRequestBody(bob, {
      status: 'completed', intent: 'plan',
      medicationCodeableConcept: { coding: [{ system: RXNORM, code: '197806' }] },
      authoredOn: '2025-11-02',
      requester: { reference: 'Organization/pharmacy-1' },
    }));
    // medication[x] as a reference: found by `medication`, never by `code`.
    ids.byRef = await created(auth, 'MedicationRequest', medicationRequestBody(ann, {
      medicationCodeableConcept: undefined,
      medicationReference: { reference: 'Medication/med-42' },
      authoredOn: '2026-02-01',
    }));
  });

  it('patient and subject match Patient/x and the bare id; :missing=false finds all', async () => {
    expect(await find(`patient=Patient/${ann}`)).to.deep.equal(sorted('amox', 'byRef'));
    expect(await find(`patient=${bob}`)).to.deep.equal(sorted('ibu'));
    expect(await find(`subject=Patient/${bob}`)).to.deep.equal(sorted('ibu'));
    expect(await find(`subject=${ann}`)).to.deep.equal(sorted('amox', 'byRef'));
    expect(await find(`subject:Patient=${ann}`)).to.deep.equal(sorted('amox', 'byRef'));
    expect(await find('patient:missing=false')).to.deep.equal(sorted('amox', 'ibu', 'byRef'));
  });

  it('code searches medicationCodeableConcept; medication searches medicationReference', async () => {
    expect(await find('code=308182')).to.deep.equal(sorted('amox'));
    expect(await find(`code=${encodeURIComponent(`${RXNORM}|197806`)}`)).to.deep.equal(sorted('ibu'));
    expect(await find(`code=${encodeURIComponent(`${RXNORM}|`)}`)).to.deep.equal(sorted('amox', 'ibu'));
    expect(await find('code:missing=true')).to.deep.equal(sorted('byRef'));
    expect(await find('medication=Medication/med-42')).to.deep.equal(sorted('byRef'));
    expect(await find('medication=med-42')).to.deep.equal(sorted('byRef'));
    expect(await find('medication:missing=true')).to.deep.equal(sorted('amox', 'ibu'));
  });

  it('status and intent are tokens with their code systems', async () => {
    expect(await find('status=active')).to.deep.equal(sorted('amox', 'byRef'));
    expect(await find(`status=${encodeURIComponent('http://hl7.org/fhir/CodeSystem/medicationrequest-status|completed')}`)).to.deep.equal(sorted('ibu'));
    expect(await find('status:not=active')).to.deep.equal(sorted('ibu'));
    expect(await find('intent=plan')).to.deep.equal(sorted('ibu'));
    expect(await find(`intent=${encodeURIComponent('http://hl7.org/fhir/CodeSystem/medicationrequest-intent|order')}`)).to.deep.equal(sorted('amox', 'byRef'));
  });

  it('authoredon honours eq, ge, le, gt, lt, sa, eb and partial dates', async () => {
    expect(await find('authoredon=2026-01-15')).to.deep.equal(sorted('amox'));
    expect(await find('authoredon=2026')).to.deep.equal(sorted('amox', 'byRef'));
    expect(await find('authoredon=2025-11')).to.deep.equal(sorted('ibu'));
    expect(await find('authoredon=ge2026-01-15')).to.deep.equal(sorted('amox', 'byRef'));
    expect(await find('authoredon=gt2026-01-15')).to.deep.equal(sorted('byRef'));
    expect(await find('authoredon=le2026-01-15')).to.deep.equal(sorted('amox', 'ibu'));
    expect(await find('authoredon=lt2026-01-15')).to.deep.equal(sorted('ibu'));
    expect(await find('authoredon=sa2026-01-15')).to.deep.equal(sorted('byRef'));
    expect(await find('authoredon=eb2026-01-15')).to.deep.equal(sorted('ibu'));
    expect(await find('authoredon=ne2026-01-15')).to.deep.equal(sorted('ibu', 'byRef'));
  });

  it('requester and encounter are references to types we do not serve, searchable as stored', async () => {
    expect(await find('requester=Practitioner/dr-who')).to.deep.equal(sorted('amox'));
    expect(await find('requester=pharmacy-1')).to.deep.equal(sorted('ibu'));
    expect(await find('requester:Organization=pharmacy-1')).to.deep.equal(sorted('ibu'));
    expect(await find('requester:missing=true')).to.deep.equal(sorted('byRef'));
    expect(await find('encounter=visit-7')).to.deep.equal(sorted('amox'));
    expect(await find('encounter=Encounter/visit-7')).to.deep.equal(sorted('amox'));
  });

  it('identifier matches value or system|value', async () => {
    expect(await find('identifier=RX-1')).to.deep.equal(sorted('amox'));
    expect(await find(`identifier=${encodeURIComponent('urn:rx|RX-1')}`)).to.deep.equal(sorted('amox'));
    expect(await find(`identifier=${encodeURIComponent('urn:other|RX-1')}`)).to.deep.equal([]);
  });

  it('a malformed authoredon is a 400, not an empty result', async () => {
    const res = await (await api()).get('/fhir/MedicationRequest?authoredon=2026-13-01').set(auth);
    expect(res.status).to.equal(400);
    expect(res.body.resourceType).to.equal('OperationOutcome');
  });
});
