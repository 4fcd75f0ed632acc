import { testServer, actor, api, stopTestServer, patientBody, FHIR, newUser, tokenFor } from '../test/helpers/server';
async function main() {
  const s = await testServer();
  const a = await actor('doctor');
  const agent = await api();
  const created = await agent.post('/fhir/Patient').set(a.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Smith')));
  const id = created.body.id;
  await agent.post('/fhir/Appointment').set(a.auth).set('Content-Type', FHIR).send(JSON.stringify({ resourceType: 'Appointment', status: 'booked', start: '2026-03-10T09:00:00Z', end: '2026-03-10T09:30:00Z', participant: [{ actor: { reference: `Patient/${id}` }, status: 'accepted' }] }));
  const off = await newUser(a.clinic, 'compliance-officer');
  const otok = await tokenFor({ clinicId: a.clinic, userId: off, scope: 'user/AuditEvent.rs' });
  const log: string[] = [];
  s.db.runtime.on('query', (q: { sql: string; bindings?: unknown[] }) => log.push(`${q.sql}   -- ${JSON.stringify(q.bindings ?? []).slice(0, 300)}`));
  const show = async (label: string, f: () => Promise<{ status: number }>) => { log.length = 0; const r = await f(); console.log(`\n== ${label} ${r.status}`); for (const l of log) console.log(l); };
  await show('read', () => agent.get(`/fhir/Patient/${id}`).set(a.auth));
  await show('search family', () => agent.get(`/fhir/Patient?family=smi&_count=20`).set(a.auth));
  await show('appt', () => agent.get(`/fhir/Appointment?patient=${id}&date=ge2026-01-01&date=lt2026-07-01`).set(a.auth));
  await show('create', () => agent.post('/fhir/Patient').set(a.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Jones'))));
  await show('audit', () => agent.get(`/fhir/AuditEvent?patient=Patient/${id}&date=ge2020-01-01`).set({ Authorization: `Bearer ${otok}` }));
  await stopTestServer();
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
