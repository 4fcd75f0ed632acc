import { expect } from 'chai';
import { exportFilesIn } from '../../server/documents/export-files';
import { removeExpiredExports } from '../../server/fhir/bulk/expiry';
import type { ExportFiles } from '../../server/fhir/bulk/files';
import { newPatient } from '../helpers/resources';
import { actor, admin, api, newUser, testServer, tokenFor } from '../helpers/server';
import { kickOff, manifestOf, pathOf, untilDone } from './client';

type Auth = Record<string, string>;

describe('Bulk Data exports expire BULK_EXPORT_TTL_HOURS after they finish', () => {
  let clinic: string;
  let owner: string;
  let system: Auth;

  before(async () => {
    const c = await actor('clinic-admin');
    clinic = c.clinic;
    await newPatient(c.auth, 'Expiring');
    owner = await newUser(clinic, 'doctor');
    system = { Authorization: `Bearer ${await tokenFor({ clinicId: clinic, userId: owner, scope: 'system/Patient.rs' })}` };
  });

  const jobIdOf = (status: string) => pathOf(status).split('/').pop() as string;
  /** As if the job had finished `hours` ago (the migration account sees past RLS). */
  const finishedHoursAgo = async (jobId: string, hours: number) => {
    await (await admin())('bulk_export').where({ id: jobId }).update({ finished_at: (await admin()).raw(`now() - make_interval(hours => ${hours})`) });
  };
  const files = async (): Promise<ExportFiles> => exportFilesIn((await testServer()).documents.store);

  it('the manifest says when its files go: finish time plus the TTL, the same on every poll', async () => {
    const status = await kickOff(system, '/fhir/$export?_type=Patient');
    await manifestOf(system, status);
    const [row] = await (await admin())('bulk_export').where({ id: jobIdOf(status) }).select('finished_at');
    const ttl = (await testServer()).cfg.bulkExportTtlHours;
    expect(ttl).to.equal(24);
    const first = await untilDone(system, status);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await untilDone(system, status);
    expect(first.headers.expires).to.equal(new Date(new Date(row.finished_at).getTime() + ttl * 3_600_000).toUTCString());
    expect(second.headers.expires).to.equal(first.headers.expires);
  });

  it('an expired export is gone at once (404 to its status URL and its files); the sweep then removes its files and row, audited, and leaves the others', async () => {
    const old = await kickOff(system, '/fhir/$export?_type=Patient');
    const oldManifest = await manifestOf(system, old);
    const fresh = await kickOff(system, '/fhir/$export?_type=Patient');
    await manifestOf(system, fresh);
    await finishedHoursAgo(jobIdOf(old), 25);

    const poll = await (await api()).get(pathOf(old)).set(system);
    expect(poll.status).to.equal(404);
    expect(poll.body.issue[0].diagnostics).to.match(/^This export expired at .*: start it again$/);
    expect((await (await api()).get(pathOf(oldManifest.output[0].url)).set(system)).status).to.equal(404);
    expect((await (await api()).get(pathOf(fresh)).set(system)).status).to.equal(200);

    const store = await files();
    expect(await store.list(clinic, jobIdOf(old))).to.have.length(1);
    const s = await testServer();
    const swept = await removeExpiredExports(s.db.runtime, store, s.cfg.bulkExportTtlHours);
    expect(swept).to.deep.include({ removed: 1, kept: 0 });
    expect(await store.list(clinic, jobIdOf(old))).to.deep.equal([]);
    expect(await store.list(clinic, jobIdOf(fresh))).to.have.length(1);
    const rows = await (await admin())('bulk_export').where({ clinic_id: clinic }).select('id');
    expect(rows.map((r) => r.id)).to.include(jobIdOf(fresh)).and.not.include(jobIdOf(old));
    const events = await (await admin())('audit_event').where({ clinic_id: clinic, subtype: 'export-expire' }).select('action', 'outcome', 'outcome_desc', 'detail', 'user_id');
    expect(events).to.have.length(1);
    expect(events[0]).to.deep.include({ action: 'D', outcome: '0', user_id: null, outcome_desc: `export ${jobIdOf(old)} (completed) expired: 1 files removed` });
    expect(events[0].detail.owner).to.equal(owner);
    // Nothing left to do: a second sweep removes nothing.
    expect(await removeExpiredExports(s.db.runtime, store, s.cfg.bulkExportTtlHours)).to.deep.include({ removed: 0, kept: 0 });
  });

  it('a file the store will not remove keeps the job for the next sweep: no row goes while its files may remain', async () => {
    const status = await kickOff(system, '/fhir/$export?_type=Patient');
    await manifestOf(system, status);
    await finishedHoursAgo(jobIdOf(status), 48);
    const s = await testServer();
    const store = await files();
    const refusing: ExportFiles = { ...store, remove: async () => { throw new Error('the store refused'); } };
    const swept = await removeExpiredExports(s.db.runtime, refusing, s.cfg.bulkExportTtlHours);
    expect(swept).to.deep.include({ removed: 0, kept: 1 });
    expect(String(swept.why)).to.contain('the store refused');
    expect(await (await admin())('bulk_export').where({ id: jobIdOf(status) }).select('id')).to.have.length(1);
    expect(await removeExpiredExports(s.db.runtime, store, s.cfg.bulkExportTtlHours)).to.deep.include({ removed: 1, kept: 0 });
    expect(await store.list(clinic, jobIdOf(status))).to.deep.equal([]);
  });

  it('a job with time left is never reached by the sweep\'s functions, and still answers', async () => {
    const status = await kickOff(system, '/fhir/$export?_type=Patient');
    await manifestOf(system, status);
    await finishedHoursAgo(jobIdOf(status), 23);
    const db = await admin();
    const forgot = await db.transaction(async (trx) => {
      await trx.raw("select set_config('role', 'fhir_app', true)");
      return (await trx.raw('select bulk_export_forget(?::uuid, ?::uuid, make_interval(hours => 24)) as done', [clinic, jobIdOf(status)])).rows[0].done;
    });
    expect(forgot).to.equal(false);
    expect(await db('bulk_export').where({ id: jobIdOf(status) }).select('id')).to.have.length(1);
    expect((await (await api()).get(pathOf(status)).set(system)).status).to.equal(200);
  });
});
