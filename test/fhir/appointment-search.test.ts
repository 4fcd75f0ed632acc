import { expect } from 'chai';
import { actor, api } from '../helpers/server';
import { appointmentBody, created, newPatient, searchIds } from '../helpers/resources';

describe('Appointment search', () => {
  let auth: Record<string, string>;
  let ann: string;
  let bob: string;
  const ids: Record<string, string> = {};
  const find = (q: string) => searchIds(auth, 'Appointment', q);
  const sorted = (...keys: string[]) => keys.map((k) => ids[k]).sort();

  before(async () => {
    ({ auth } = await actor('front-desk'));
    ann = await newPatient(auth, 'Ann');
    bob = await newPatient(auth, 'Bob');
    ids.checkup = await created(auth, 'Appointment', appointmentBody(ann, {
      identifier: [{ system: 'urn:booking', value: 'B-1' }],
      start: '2026-03-10T09:00:00Z', end: '2026-03-10T09:30:00Z',
      serviceType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-type', code: '124' }] }],
      appointmentType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'CHECKUP' }] },
      participant: [
        { actor: { reference: `Patient/${ann}` }, status: 'accepted' },
        { actor: { reference: 'Practitioner/dr-who' }, status: 'accepted' },
      ],
    }));
    ids.followup = await created(auth, 'Appointment', appointmentBody(bob, {
      identifier: [{ system: 'urn:other', value: 'B-1' }],
      status: 'pending',
      start: '2026-04-01T14:00:00Z', end: '2026-04-01T14:20:00Z',
      appointmentType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'FOLLOWUP' }] },
      participant: [
        { actor: { reference: `Patient/${bob}` }, status: 'accepted' },
        { actor: { reference: 'Location/room-1' }, status: 'accepted' },
      ],
    }));
    // A proposed appointment may have no start: it is what `date:missing` finds.
    ids.proposed = await created(auth, 'Appointment', {
      resourceType: 'Appointment', status: 'proposed',
      participant: [{ actor: { reference: `Patient/${ann}` }, status: 'needs-action' }],
    });
  });

  it('patient matches Patient/x and the bare id; :missing finds appointments with no patient only', async () => {
    expect(await find(`patient=Patient/${ann}`)).to.deep.equal(sorted('checkup', 'proposed'));
    expect(await find(`patient=${bob}`)).to.deep.equal(sorted('followup'));
    expect(await find(`patient:missing=false`)).to.deep.equal(sorted('checkup', 'followup', 'proposed'));
    expect(await find(`patient:missing=true`)).to.deep.equal([]);
  });

  it('actor matches any participant, typed or bare; practitioner only practitioners', async () => {
    expect(await find('actor=Practitioner/dr-who')).to.deep.equal(sorted('checkup'));
    expect(await find('actor=room-1')).to.deep.equal(sorted('followup'));
    expect(await find(`actor=Patient/${bob}`)).to.deep.equal(sorted('followup'));
    expect(await find('practitioner=dr-who')).to.deep.equal(sorted('checkup'));
    expect(await find('practitioner=room-1')).to.deep.equal([]);
    expect(await find('practitioner:missing=true')).to.deep.equal(sorted('followup', 'proposed'));
  });

  it('date (Appointment.start) honours eq, ge, le, gt, lt and partial dates; :missing finds the undated', async () => {
    expect(await find('date=2026-03-10')).to.deep.equal(sorted('checkup'));
    expect(await find('date=2026-03')).to.deep.equal(sorted('checkup'));
    expect(await find('date=2026')).to.deep.equal(sorted('checkup', 'followup'));
    expect(await find('date=ge2026-04-01')).to.deep.equal(sorted('followup'));
    expect(await find('date=gt2026-03-10T09:00:00Z')).to.deep.equal(sorted('followup'));
    expect(await find('date=le2026-03-10')).to.deep.equal(sorted('checkup'));
    expect(await find('date=lt2026-03-10T09:00:00Z')).to.deep.equal([]);
    expect(await find('date=ge2026-03-01&date=lt2026-04-01')).to.deep.equal(sorted('checkup'));
    expect(await find('date:missing=true')).to.deep.equal(sorted('proposed'));
  });

  it('status is a token with the appointmentstatus system; :not excludes', async () => {
    expect(await find('status=booked')).to.deep.equal(sorted('checkup'));
    expect(await find(`status=${encodeURIComponent('http://hl7.org/fhir/appointmentstatus|pending')}`)).to.deep.equal(sorted('followup'));
    expect(await find(`status=${encodeURIComponent('http://other|pending')}`)).to.deep.equal([]);
    expect(await find('status:not=booked')).to.deep.equal(sorted('followup', 'proposed'));
  });

  it('identifier, service-type and appointment-type match code or system|code', async () => {
    expect(await find('identifier=B-1')).to.deep.equal(sorted('checkup', 'followup'));
    expect(await find(`identifier=${encodeURIComponent('urn:booking|B-1')}`)).to.deep.equal(sorted('checkup'));
    expect(await find('service-type=124')).to.deep.equal(sorted('checkup'));
    expect(await find('service-type:missing=true')).to.deep.equal(sorted('followup', 'proposed'));
    expect(await find(`appointment-type=${encodeURIComponent('http://terminology.hl7.org/CodeSystem/v2-0276|FOLLOWUP')}`)).to.deep.equal(sorted('followup'));
    expect(await find(`appointment-type=${encodeURIComponent('http://terminology.hl7.org/CodeSystem/v2-0276|')}`)).to.deep.equal(sorted('checkup', 'followup'));
  });

  it('_sort=-date orders by start, latest first, undated last', async () => {
    const { body } = await (await api()).get('/fhir/Appointment?_sort=-date').set(auth);
    expect(body.entry.map((e: { resource: { id: string } }) => e.resource.id)).to.deep.equal([ids.followup, ids.checkup, ids.proposed]);
  });
});
