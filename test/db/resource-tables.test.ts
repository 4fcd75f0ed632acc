import { expect } from 'chai';
import { searchColumnName } from '../../db/resource-table';
import { APP_ROLE, OWNER_ROLE } from '../../db/roles';
import { RESOURCE_DEFINITIONS } from '../../server/fhir/resources';
import type { SearchParamDef } from '../../server/fhir/resources/types';
import { COMPARTMENT_TYPES, created, newPatient } from '../helpers/resources';
import { actor, admin } from '../helpers/server';

/** The columns (and their PostgreSQL types) that the search engine reads and writes for a parameter. */
function expectedColumns(p: SearchParamDef): Record<string, string> {
  const c = searchColumnName(p.name);
  switch (p.type) {
    case 'string': return { [c]: 'text', [`${c}_exact`]: 'ARRAY' };
    case 'token':
    case 'reference': return { [c]: 'ARRAY' };
    case 'date': return { [`${c}_lo`]: 'timestamp with time zone', [`${c}_hi`]: 'timestamp with time zone' };
  }
}

async function columnsOf(table: string): Promise<Map<string, string>> {
  const rows = await (await admin())('information_schema.columns')
    .where({ table_schema: 'public', table_name: table })
    .select('column_name', 'data_type') as Array<{ column_name: string; data_type: string }>;
  return new Map(rows.map((r) => [r.column_name, r.data_type]));
}

// Catches drift between a resource definition and the frozen column list of its migration.
describe('Resource definitions and their tables', () => {
  for (const def of RESOURCE_DEFINITIONS) {
    it(`every search parameter of ${def.type} has its typed columns in ${def.table}`, async () => {
      const columns = await columnsOf(def.table);
      expect(columns.size, `table ${def.table} exists`).to.be.greaterThan(0);
      const missing: string[] = [];
      for (const l of def.search.flatMap((p) => p.lookups ?? [])) {
        if (!(await columnsOf(l.table)).has(l.column)) missing.push(`lookup ${l.table}.${l.column}`);
      }
      for (const p of def.rowStore ? [] : def.search) {
        for (const [col, type] of Object.entries(expectedColumns(p))) {
          if (columns.get(col) !== type) missing.push(`${p.name} -> ${col} ${type} (found ${columns.get(col) ?? 'none'})`);
        }
      }
      expect(missing, `search parameters without their column in ${def.table}`).to.deep.equal([]);
      if (def.compartment !== 'self' && 'paths' in def.compartment) expect(columns.get('patient_id'), `${def.table}.patient_id`).to.equal('uuid');
    });
  }

  it('no table carries search columns that no definition fills (a removed parameter leaves a stale column)', async () => {
    for (const def of RESOURCE_DEFINITIONS) {
      const expected = new Set(def.search.flatMap((p) => Object.keys(expectedColumns(p))));
      const stale = [...(await columnsOf(def.table)).keys()].filter((c) => c.startsWith('sp_') && !expected.has(c));
      expect(stale, def.table).to.deep.equal([]);
    }
  });

  it('every resource table and its history force Row Level Security with the clinic and compartment policies', async () => {
    const db = await admin();
    for (const def of RESOURCE_DEFINITIONS.filter((d) => !d.serverWritten)) {
      for (const table of [def.table, `${def.table}_history`]) {
        const { rows } = await db.raw(`
          select c.relrowsecurity as rls, c.relforcerowsecurity as forced,
                 array(select p.polname::text from pg_policy p where p.polrelid = c.oid order by 1) as policies,
                 array(select p.polname::text from pg_policy p where p.polrelid = c.oid and not p.polpermissive order by 1) as restrictive
            from pg_class c where c.relname = ? and c.relnamespace = 'public'::regnamespace`, [table]);
        // A patient's records also carry the care policy (migration 032); a type in no compartment does not.
        const care = def.compartment === 'self' || 'paths' in def.compartment;
        expect(rows[0], table).to.deep.equal(care
          ? { rls: true, forced: true, policies: ['care_team', 'isolate_clinic', 'patient_compartment'], restrictive: ['care_team', 'patient_compartment'] }
          : { rls: true, forced: true, policies: ['isolate_clinic', 'patient_compartment'], restrictive: ['patient_compartment'] });
      }
    }
  });

  it('the app role may not DELETE or TRUNCATE any resource table: deletion is logical', async () => {
    const db = await admin();
    for (const def of RESOURCE_DEFINITIONS) {
      const { rows } = await db.raw(
        "select has_table_privilege(?, ?, 'DELETE') as del, has_table_privilege(?, ?, 'TRUNCATE') as trunc", [APP_ROLE, def.table, APP_ROLE, def.table]);
      expect(rows[0], def.table).to.deep.equal({ del: false, trunc: false });
    }
  });

  it('with rows present, the app role without a clinic and the table owner still see none of them', async () => {
    const { auth } = await actor('clinic-admin');
    const patient = await newPatient(auth);
    for (const { type, body } of COMPARTMENT_TYPES) await created(auth, type, body(patient));
    await created(auth, 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Quill' }] });
    const db = await admin();
    for (const def of RESOURCE_DEFINITIONS.filter((d) => !d.serverWritten)) {
      for (const table of [def.table, `${def.table}_history`]) {
        expect(Number((await db(table).count({ n: '*' }))[0].n), `superuser sees ${table}`).to.be.greaterThan(0);
        for (const role of [APP_ROLE, OWNER_ROLE]) {
          const n = await db.transaction(async (trx) => {
            await trx.raw(`set local role ${role}`);
            return (await trx.raw(`select count(*)::int as n from ${table}`)).rows[0].n as number;
          });
          expect(n, `${role} on ${table}`).to.equal(0);
        }
      }
    }
  });
});
