import { expect } from 'chai';
import type { Knex } from 'knex';
import { PRACTITIONER_TABLES } from '../../db/migrations/027_practitioner';
import { createResourceType, type ResourceTableSpec } from '../../db/resource-recipe';
import { OWNER_ROLE } from '../../db/roles';
import { PractitionerDefinition } from '../../server/fhir/resources/practitioner';
import { tableSpecOf } from '../../server/fhir/resources/table-spec';
import { admin } from '../helpers/server';

// Frozen copies of the search columns of migrations 005 and 006: what the migrations built.
const BUILT_BY_MIGRATIONS: ResourceTableSpec[] = [
  {
    table: 'medication_request', compartment: 'patient_id', search: [
      { name: 'identifier', type: 'token' }, { name: 'patient', type: 'reference' }, { name: 'subject', type: 'reference' },
      { name: 'status', type: 'token' }, { name: 'intent', type: 'token' }, { name: 'authoredon', type: 'date' },
      { name: 'code', type: 'token' }, { name: 'medication', type: 'reference' }, { name: 'requester', type: 'reference' },
      { name: 'encounter', type: 'reference' },
    ],
  },
  {
    table: 'document_reference', compartment: 'patient_id', search: [
      { name: 'identifier', type: 'token' }, { name: 'patient', type: 'reference' }, { name: 'subject', type: 'reference' },
      { name: 'type', type: 'token' }, { name: 'category', type: 'token' }, { name: 'date', type: 'date' },
      { name: 'status', type: 'token' }, { name: 'author', type: 'reference' }, { name: 'contenttype', type: 'token' },
      { name: 'period', type: 'date' },
    ],
  },
];

type Row = Record<string, unknown>;

/**
 * What PostgreSQL holds about `<table>`, `<table>_history` and `<table>_search`, with the table's
 * name written as `T` so two types' catalogs compare: columns, constraints, indexes, RLS flags,
 * owner, policies, triggers with their functions' source, and grants.
 */
async function catalogOf(db: Knex.Transaction, table: string): Promise<Record<string, Row[]>> {
  const tables = [table, `${table}_history`, `${table}_search`];
  const q = async (sql: string): Promise<Row[]> => (await db.raw(sql, [tables])).rows as Row[];
  const out: Record<string, Row[]> = {
    columns: await q(`select table_name, ordinal_position, column_name, data_type, udt_name, is_nullable, column_default, collation_name
      from information_schema.columns where table_schema = 'public' and table_name = any(?) order by table_name, ordinal_position`),
    constraints: await q(`select conrelid::regclass::text as tbl, conname, contype, pg_get_constraintdef(oid) as def
      from pg_constraint where conrelid::regclass::text = any(?) order by 1, 2`),
    indexes: await q(`select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = any(?) order by 1, 2`),
    security: await q(`select relname, relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner) as owner
      from pg_class where relnamespace = 'public'::regnamespace and relname = any(?) order by 1`),
    policies: await q(`select tablename, policyname, permissive, roles, cmd, qual, with_check from pg_policies
      where schemaname = 'public' and tablename = any(?) order by 1, 2`),
    triggers: await q(`select t.tgrelid::regclass::text as tbl, t.tgname, pg_get_triggerdef(t.oid) as def,
        pg_get_userbyid(p.proowner) as fn_owner, p.prosecdef, regexp_replace(p.prosrc, '\\s+', ' ', 'g') as fn_source
      from pg_trigger t join pg_proc p on p.oid = t.tgfoid where not t.tgisinternal and t.tgrelid::regclass::text = any(?) order by 1, 2`),
    grants: await q(`select table_name, grantee, privilege_type from information_schema.role_table_grants
      where table_schema = 'public' and table_name = any(?) order by 1, 2, 3`),
  };
  const named = new RegExp(`(?<![A-Za-z0-9_])${table}`, 'g');
  return JSON.parse(JSON.stringify(out).replace(named, 'T')) as Record<string, Row[]>;
}

/** Builds `spec` under another name in a transaction that is rolled back, and returns its catalog. */
async function recipeCatalog(spec: ResourceTableSpec, probe: string): Promise<{ built: Record<string, Row[]>; existing: Record<string, Row[]> }> {
  const db = await admin();
  let result: { built: Record<string, Row[]>; existing: Record<string, Row[]> } | undefined;
  await db.transaction(async (trx) => {
    await trx.raw(`set local role ${OWNER_ROLE}`);
    await createResourceType(trx, { ...spec, table: probe });
    await trx.raw('reset role');
    result = { built: await catalogOf(trx, probe), existing: await catalogOf(trx, spec.table) };
    await trx.rollback();
  }).catch((err: unknown) => { if (!result) throw err; });
  if (!result) throw new Error('catalog not read');
  return result;
}

describe('One recipe for the tables of a resource type', () => {
  for (const spec of BUILT_BY_MIGRATIONS) {
    it(`builds today exactly what the migrations left for ${spec.table} (columns, indexes, policies, triggers, grants)`, async () => {
      const { built, existing } = await recipeCatalog(spec, 'recipe_probe');
      expect(existing.columns.length, 'the existing tables were read').to.be.greaterThan(20);
      for (const part of Object.keys(existing)) expect(built[part], part).to.deep.equal(existing[part]);
    });
  }

  it('the catalog comparison notices a difference (a missing search column)', async () => {
    const [spec] = BUILT_BY_MIGRATIONS;
    const { built, existing } = await recipeCatalog({ ...spec, search: spec.search.slice(1) }, 'recipe_probe');
    expect(built.columns).to.not.deep.equal(existing.columns);
  });

  it('builds the Practitioner tables from the frozen spec of migration 027, which is what its definition derives', async () => {
    expect(tableSpecOf(PractitionerDefinition)).to.deep.equal(PRACTITIONER_TABLES);
    const { built, existing } = await recipeCatalog(PRACTITIONER_TABLES, 'recipe_probe');
    for (const part of Object.keys(existing)) expect(built[part], part).to.deep.equal(existing[part]);
    const policy = existing.policies.find((p) => p.tablename === 'T' && p.policyname === 'patient_compartment');
    expect(policy).to.include({ permissive: 'RESTRICTIVE', with_check: '(app_patient_id() IS NULL)' });
    expect(String(policy?.qual)).to.contain('sp_general_practitioner');
    expect(existing.constraints.filter((c) => c.contype === 'f'), 'no foreign key to clinic').to.deep.equal([]);
  });
});
