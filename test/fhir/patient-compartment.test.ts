import { expect } from 'chai';
import { actor, api, newUser, tokenFor } from '../helpers/server';
import { COMPARTMENT_TYPES, created, newPatient, post, put, searchIds } from '../helpers/resources';

/** A patient/ token (SMART patient launch) sees and writes only its own patient's compartment. */
describe('Patient compartment under patient/ scopes', () => {
  let staff: Awaited<ReturnType<typeof actor>>;
  let me: string;
  let neighbour: string;
  let reader: Record<string, string>;
  let writer: Record<string, string>;
  const mine: Record<string, string> = {};
  const theirs: Record<string, string> = {};

  before(async () => {
    staff = await actor('clinic-admin');
    me = await newPatient(staff.auth, 'Me');
    neighbour = await newPatient(staff.auth, 'Neighbour');
    for (const { type, body } of COMPARTMENT_TYPES) {
      mine[type] = await created(staff.auth, type, body(me));
      theirs[type] = await created(staff.auth, type, body(neighbour));
    }
    const user = await newUser(staff.clinic, 'doctor');
    reader = { Authorization: `Bearer ${await tokenFor({ clinicId: staff.clinic, userId: user, scope: 'patient/*.read', patientId: me })}` };
    writer = { Authorization: `Bearer ${await tokenFor({ clinicId: staff.clinic, userId: user, scope: 'patient/*.cruds', patientId: me })}` };
  });

  for (const { type } of COMPARTMENT_TYPES) {
    it(`reads its own ${type} and gets 404 for the neighbour's`, async () => {
      const a = await api();
      expect((await a.get(`/fhir/${type}/${mine[type]}`).set(reader)).status).to.equal(200);
      expect((await a.get(`/fhir/${type}/${theirs[type]}`).set(reader)).status).to.equal(404);
      expect((await a.get(`/fhir/${type}/${theirs[type]}/_history/1`).set(reader)).status).to.equal(404);
    });

    it(`searching ${type} finds only its own, even when it asks for the neighbour`, async () => {
      expect(await searchIds(reader, type, '')).to.deep.equal([mine[type]]);
      expect(await searchIds(reader, type, `patient=${neighbour}`)).to.deep.equal([]);
      expect(await searchIds(reader, type, `_id=${theirs[type]}`)).to.deep.equal([]);
      const hist = await (await api()).get(`/fhir/${type}/_history`).set(reader);
      const urls = (hist.body.entry ?? []).map((e: { fullUrl: string }) => e.fullUrl);
      expect(urls).to.not.be.empty;
      expect(urls.every((u: string) => u.endsWith(mine[type]))).to.equal(true);
    });
  }

  for (const { type, body } of COMPARTMENT_TYPES) {
    it(`may create its own ${type} but not the neighbour's (403 or 422, never 500), and nothing is written`, async () => {
      const own = await post(writer, type, body(me));
      expect(own.status, own.text.slice(0, 300)).to.equal(201);
      const other = await post(writer, type, body(neighbour));
      expect(other.status).to.be.oneOf([403, 422]);
      expect(other.body.resourceType).to.equal('OperationOutcome');
      expect(await searchIds(staff.auth, type, `patient=${neighbour}`)).to.deep.equal([theirs[type]]);
    });

    it(`cannot move its own ${type} into the neighbour's compartment`, async () => {
      const id = await created(writer, type, body(me));
      const res = await put(writer, type, id, { ...body(neighbour), id });
      expect(res.status).to.be.oneOf([403, 422]);
      const now = await (await api()).get(`/fhir/${type}/${id}`).set(staff.auth);
      expect(now.body.meta.versionId).to.equal('1');
    });
  }

  it('a read-only patient token cannot write its own records', async () => {
    const res = await post(reader, 'MedicationRequest', COMPARTMENT_TYPES[1].body(me));
    expect(res.status).to.equal(403);
  });

  it('a patient-scoped Appointment naming a second patient is refused: the neighbour is invisible here', async () => {
    const res = await post(writer, 'Appointment', COMPARTMENT_TYPES[0].body(me, {
      participant: [
        { actor: { reference: `Patient/${me}` }, status: 'accepted' },
        { actor: { reference: `Patient/${neighbour}` }, status: 'accepted' },
      ],
    }));
    expect(res.status).to.equal(422);
  });
});
