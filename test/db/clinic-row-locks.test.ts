import { expect } from 'chai';
import { actor, admin, api, FHIR, patientBody } from '../helpers/server';

/**
 * Requests do not lock their clinic's row (migration 025): with every request writing an AuditEvent,
 * a key-share lock per insert would make all of a clinic's requests queue on one row. Here the
 * clinic row is held FOR UPDATE (which conflicts with FOR KEY SHARE) while requests run: they must
 * still finish.
 */
describe('Clinic row locks', () => {
  it('reads, searches and creates finish while the clinic row is locked FOR UPDATE', async () => {
    const doc = await actor('doctor');
    const c = await api();
    const created = await c.post('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Locked')));
    expect(created.status).to.equal(201);

    const db = await admin();
    const trx = await db.transaction();
    try {
      await trx.raw('select id from clinic where id = ? for update', [doc.clinic]);
      const requests = Promise.all([
        c.get(`/fhir/Patient/${created.body.id}`).set(doc.auth),
        c.get('/fhir/Patient?family=Locked').set(doc.auth),
        c.post('/fhir/Patient').set(doc.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Locked'))),
      ]);
      const blocked = new Promise<'blocked'>((resolve) => { setTimeout(() => resolve('blocked'), 10_000).unref(); });
      const outcome = await Promise.race([requests, blocked]);
      expect(outcome, 'requests waited on the clinic row').to.not.equal('blocked');
      expect((outcome as Array<{ status: number }>).map((r) => r.status)).to.deep.equal([200, 200, 201]);
    } finally {
      await trx.rollback();
    }
  });
});
