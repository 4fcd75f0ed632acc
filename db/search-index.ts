import type { Knex } from 'knex';
import { compartmentPatientOf, compartmentPolicy, type TableCompartment } from './compartment';
import { searchColumnName, type SearchColumn } from './resource-table';
import { APP_ROLE } from './roles';

/**
 * The search index of a resource table: one row per (search parameter, value) in `<table>_search`,
 * btree-indexed on (clinic_id, param, value).
 *
 * Why not GIN on the array columns: under RLS, a query's own conditions may only be used as index
 * conditions before the policy's if their operators are LEAKPROOF. Array overlap (`&&`) and LIKE
 * are not (and only a superuser may mark a function so), so a GIN index on `sp_x` could only ever
 * be scanned for `clinic_id`, i.e. the whole clinic. Text equality, text ranges and `starts_with`
 * are leakproof: on this table the same search is an index range scan.
 *
 * A trigger keeps the index in step with the typed columns on every write (the API's and a bulk
 * load's alike). Token and reference rows are the column's entries; string rows are the normalised
 * values (prefix search is a range on them, in the "C" collation so a range is a byte prefix).
 */
export const INDEXED_TYPES: ReadonlySet<SearchColumn['type']> = new Set(['token', 'reference', 'string']);

export const searchTable = (table: string) => `${table}_search`;

/** `select 'param', value` for each indexed column of a row (`new` in the trigger), as one UNION ALL. */
function valuesOf(search: readonly SearchColumn[], row: string): string {
  return search.filter((s) => INDEXED_TYPES.has(s.type)).map((s) => {
    const c = `${row}.${searchColumnName(s.name)}`;
    const values = s.type === 'string' ? `unnest(string_to_array(${c}, E'\\x1f'))` : `unnest(${c})`;
    return `select '${s.name}'::text, ${values}`;
  }).join('\n        union all ');
}

/** GIN indexes the old layout put on `table` (useless under RLS, see above), by name. */
export function ginIndexesOf(table: string, search: readonly SearchColumn[]): string[] {
  return search.flatMap((s) => {
    const c = searchColumnName(s.name);
    if (s.type === 'string') return [`${table}_${c}_trgm`, `${table}_${c}_exact`];
    return s.type === 'token' || s.type === 'reference' ? [`${table}_${c}`] : [];
  });
}

/** Creates `<table>_search`, its policies and the trigger that maintains it. Run as the owner role. */
export async function createSearchIndex(knex: Knex, table: string, opts: { compartment: TableCompartment; search: SearchColumn[] }): Promise<void> {
  const st = searchTable(table);
  const patient = compartmentPatientOf(opts.compartment, 'new');
  const policy = compartmentPolicy(opts.compartment, st, 'patient_id');
  await knex.raw(`
    create table ${st} (
      clinic_id uuid not null,
      id uuid not null,
      patient_id uuid,
      param text collate "C" not null,
      value text collate "C" not null
    );
    create index ${st}_value on ${st} (clinic_id, param, value) include (id, patient_id);
    create index ${st}_id on ${st} (id);
    alter table ${st} enable row level security;
    alter table ${st} force row level security;
    create policy isolate_clinic on ${st}
      using (clinic_id = (select app_clinic_id())) with check (clinic_id = (select app_clinic_id()));
    create policy patient_compartment on ${st} as restrictive
      using (${policy.using})
      with check (${policy.check});
    grant select, insert, delete on ${st} to ${APP_ROLE};

    create function ${st}_sync() returns trigger language plpgsql as $f$
    begin
      if tg_op = 'UPDATE' then delete from ${st} where id = new.id; end if;
      -- A deleted version is never a search match: it needs no index rows.
      if new.deleted then return null; end if;
      insert into ${st} (clinic_id, id, patient_id, param, value)
      select new.clinic_id, new.id, ${patient}, v.param, v.value from (
        ${valuesOf(opts.search, 'new')}
      ) v(param, value) where v.value is not null and v.value <> '';
      return null;
    end $f$;
    create trigger search_sync after insert or update on ${table} for each row execute function ${st}_sync();
  `);
}

/**
 * Indexes the rows written before the search index existed. The owner is subject to FORCE RLS, so
 * policies open to it alone exist for the duration of the migration's transaction.
 */
export async function backfillSearchIndex(knex: Knex, table: string, ownerRole: string, opts: { compartment: TableCompartment; search: SearchColumn[] }): Promise<void> {
  const st = searchTable(table);
  await knex.raw(`
    create policy search_backfill on ${table} for select to ${ownerRole} using (true);
    create policy search_backfill on ${st} for insert to ${ownerRole} with check (true);
    insert into ${st} (clinic_id, id, patient_id, param, value)
    select t.clinic_id, t.id, ${compartmentPatientOf(opts.compartment, 't')}, v.param, v.value
      from ${table} t cross join lateral (
        ${valuesOf(opts.search, 't')}
      ) v(param, value)
     where not t.deleted and v.value is not null and v.value <> '';
    drop policy search_backfill on ${table};
    drop policy search_backfill on ${st};
  `);
}
