import { expect } from 'chai';
import { admin } from '../helpers/server';

/**
 * Tables that stay whole on every Citus node (create_reference_table): small, read by the
 * authorization server or by app_clinic_id() without a clinic in hand, or global by nature.
 */
const REFERENCE_TABLES: Record<string, string> = {
  role: 'read by app_begin for every request, joined to membership',
  membership: 'app_clinic_id() checks it for the user before any clinic is trusted',
  oauth_client: 'looked up by client_id alone at the token endpoint',
  oauth_launch: 'looked up by the opaque launch value alone',
  oauth_grant_context: 'looked up by grant id alone when a token is issued or refreshed',
};

/** Tenant tables not yet ready to distribute, each with why (none today). */
const NOT_YET: Record<string, string> = {};

interface KeyRow { tbl: string; idx: string; cols: string[] }

/**
 * Tenant tables: Row Level Security on and a clinic_id column (partitions are judged by their parent).
 * The benchmark's comparison table (scripts/bench/naive-floor.ts, `bench_`) is no part of the schema.
 */
async function tenantTables(): Promise<string[]> {
  const { rows } = await (await admin()).raw(`
    select c.relname as tbl from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relrowsecurity and not c.relispartition
       and c.relname not like 'bench\\_%'
       and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'clinic_id' and not a.attisdropped)
     order by 1`);
  return (rows as Array<{ tbl: string }>).map((r) => r.tbl);
}

/** Each primary key and unique index of those tables with its key columns (INCLUDE columns are not keys). */
async function uniqueKeys(): Promise<KeyRow[]> {
  const { rows } = await (await admin()).raw(`
    select c.relname as tbl, i.relname as idx,
           array(select a.attname from unnest((ix.indkey::int2[])[0:ix.indnkeyatts - 1]) k
                   join pg_attribute a on a.attrelid = c.oid and a.attnum = k)::text[] as cols
      from pg_class c join pg_index ix on ix.indrelid = c.oid and ix.indisunique join pg_class i on i.oid = ix.indexrelid
     where c.relnamespace = 'public'::regnamespace and not c.relispartition
     order by 1, 2`);
  return rows as KeyRow[];
}

describe('Ready for Citus: tenant tables can be distributed by clinic_id', () => {
  it('every primary key and unique index of a tenant table includes clinic_id (reference tables and named exceptions aside)', async () => {
    const tenant = await tenantTables();
    const distributed = tenant.filter((t) => !(t in REFERENCE_TABLES) && !(t in NOT_YET));
    expect(distributed).to.include.members(['patient', 'patient_history', 'appointment', 'document_binary', 'practitioner', 'audit_event', 'audit_event_patient']);
    const missing = (await uniqueKeys()).filter((k) => distributed.includes(k.tbl) && !k.cols.includes('clinic_id'));
    expect(missing.map((k) => `${k.tbl}.${k.idx} (${k.cols.join(', ')})`)).to.deep.equal([]);
  });

  it('the reference tables are real tenant tables', async () => {
    const tenant = await tenantTables();
    for (const t of [...Object.keys(REFERENCE_TABLES), ...Object.keys(NOT_YET)]) expect(tenant, t).to.include(t);
  });

  it('audit rows always carry their distribution key: events that name no clinic are kept under the all-zero clinic', async () => {
    const { rows } = await (await admin()).raw(`select attname, attnotnull from pg_attribute where attrelid in ('audit_event'::regclass, 'audit_event_patient'::regclass) and attname = 'clinic_id'`);
    expect((rows as Array<{ attnotnull: boolean }>).map((r) => r.attnotnull)).to.deep.equal([true, true]);
    expect(await (await admin())('audit_event').whereNull('clinic_id').count('* as n').first()).to.deep.equal({ n: '0' });
  });

  it('every table to distribute has an RLS policy on clinic_id, the distribution column', async () => {
    const { rows } = await (await admin()).raw(`
      select tablename from pg_policies where schemaname = 'public' and (qual like '%clinic_id%' or with_check like '%clinic_id%')`);
    const withPolicy = new Set((rows as Array<{ tablename: string }>).map((r) => r.tablename));
    const lacking = (await tenantTables()).filter((t) => !(t in REFERENCE_TABLES) && !withPolicy.has(t));
    expect(lacking).to.deep.equal([]);
  });
});
