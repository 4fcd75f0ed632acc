import crypto from 'node:crypto';
import { expect } from 'chai';
import { AUDIT_MONTHS_AHEAD, ensureAuditPartitions } from '../../db';
import { OWNER_ROLE } from '../../db/roles';
import { admin, testServer } from '../helpers/server';

const month = (ahead: number) => {
  const d = new Date();
  const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + ahead, 1));
  return { suffix: `${m.getUTCFullYear()}${String(m.getUTCMonth() + 1).padStart(2, '0')}`, mid: new Date(m.getTime() + 14 * 86_400_000) };
};

async function partitions(parent: string): Promise<string[]> {
  const db = await admin();
  const { rows } = await db.raw<{ rows: Array<{ name: string }> }>(
    'select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = ?::regclass order by 1', [parent]);
  return rows.map((r) => r.name);
}

describe('Audit partitions', () => {
  before(async () => { await testServer(); });

  it(`keeps last month, this month and ${AUDIT_MONTHS_AHEAD} ahead (plus the default), for the events and their patient index`, async () => {
    await ensureAuditPartitions((await testServer()).db.adminUrl); // what the server's daily timer runs: nothing to add today
    const months = [-1, 0, 1, 2].map((i) => month(i).suffix);
    expect(await partitions('audit_event')).to.include.members([...months.map((m) => `audit_event_${m}`), 'audit_event_default']);
    expect(await partitions('audit_event')).to.not.include(`audit_event_${month(3).suffix}`);
    expect(await partitions('audit_event_patient')).to.include.members([...months.map((m) => `audit_event_patient_${m}`), 'audit_event_patient_default']);
  });

  it('a month whose rows already went to the default partition is skipped with a warning, not an error', async () => {
    const db = await admin();
    const late = month(9);
    // An event filed in a month with no partition yet (clinic NULL: visible to no clinic).
    await db.raw(`insert into audit_event (id, clinic_id, last_updated, type, subtype, action, outcome) values (?, '00000000-0000-0000-0000-000000000000', ?, 'rest', 'read', 'R', '0')`,
      [crypto.randomUUID(), late.mid.toISOString()]);
    await db.raw(`set role ${OWNER_ROLE}; select audit_event_ensure_partitions(10); reset role;`);
    const names = await partitions('audit_event');
    expect(names).to.include(`audit_event_${month(10).suffix}`); // the months after it were still made
    expect(names).to.not.include(`audit_event_${late.suffix}`);
  });

});
