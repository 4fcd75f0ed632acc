import { expect } from 'chai';
import supertest from 'supertest';
import { createApp, defaultReadiness } from '../../server/app';
import { serveMetrics } from '../../server/ops/metrics-server';
import { actor, api, FHIR, patientBody, testServer } from '../helpers/server';

describe('ops: /readyz and /metrics', () => {
  it('/readyz answers 200 when the database and the document store answer', async () => {
    const res = await (await api()).get('/readyz');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ status: 'ready' });
  });

  it('/readyz answers 503 naming what failed: a draining node, a node without document storage', async () => {
    const s = await testServer();
    const readiness = defaultReadiness(s.db.runtime, s.documents);
    const app = createApp({ cfg: s.cfg, db: s.db.runtime, keys: s.keyRing, oauthSecrets: s.oauthSecrets, pageSecret: 'p'.repeat(32), documents: s.documents, readiness });
    expect((await supertest(app).get('/readyz')).status).to.equal(200);
    readiness.drain();
    const draining = await supertest(app).get('/readyz');
    expect(draining.status).to.equal(503);
    expect(draining.body).to.deep.equal({ status: 'not ready', failed: ['draining'] });
    expect(draining.headers.connection).to.equal('close');

    const noStore = createApp({ cfg: s.cfg, db: s.db.runtime, keys: s.keyRing, oauthSecrets: s.oauthSecrets, pageSecret: 'p'.repeat(32) });
    const res = await supertest(noStore).get('/readyz');
    expect(res.status).to.equal(503);
    expect(res.body.failed).to.deep.equal(['documents']);
  });

  it('/metrics on its own port counts requests by interaction, type and status and shows the pool; the public port has none', async () => {
    const doctor = await actor('doctor');
    const agent = await api();
    const created = await agent.post('/fhir/Patient').set(doctor.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Metric')));
    expect(created.status).to.equal(201);
    await agent.get(`/fhir/Patient/${created.body.id}`).set(doctor.auth).expect(200);
    await agent.get('/fhir/Patient/00000000-0000-4000-8000-000000000000').set(doctor.auth).expect(404);

    const metrics = await serveMetrics({ host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(metrics.url);
      expect(res.status).to.equal(200);
      const text = await res.text();
      expect(text).to.match(/fhir_http_requests_total\{method="POST",interaction="create",type="Patient",status="201"\} [1-9]/);
      expect(text).to.match(/fhir_http_requests_total\{method="GET",interaction="read",type="Patient",status="404"\} [1-9]/);
      expect(text).to.match(/fhir_http_request_duration_seconds_bucket\{le="0\.5",method="GET",interaction="read",type="Patient"\} [1-9]/);
      expect(text).to.match(/fhir_db_pool_connections\{pool="runtime",state="used"\} \d/);
      expect(text).to.match(/fhir_db_pool_acquire_seconds_count\{pool="runtime",outcome="acquired"\} [1-9]/);
      expect(text).to.include('fhir_audit_write_failures_total');
      // No resource id, name or query reaches a label.
      expect(text).to.not.include(created.body.id);
      expect(text).to.not.include('Metric');
    } finally {
      await metrics.close();
    }
    expect((await agent.get('/metrics')).status).to.equal(404);
  });
});
