import type { Knex } from 'knex';
import { careCheck, carePolicy, careHistoryPolicy, keepHistoryFunction } from './care-policy';
import { compartmentPolicy, type TableCompartment } from './compartment';
import { searchColumnName, type SearchColumn } from './resource-table';
import { APP_ROLE } from './roles';
import { createSearchIndex } from './search-index';

/** What the tables of one resource type are built from (server/fhir/resources/table-spec.ts derives it from a definition). */
export interface ResourceTableSpec {
  table: string;
  compartment: TableCompartment;
  search: SearchColumn[];
}

/** The typed columns of one search parameter (strings, tokens and references are searched through `<table>_search`). */
function searchColumns(col: SearchColumn): string[] {
  const c = searchColumnName(col.name);
  switch (col.type) {
    // `sp_x`: normalised values joined by \x1f; `sp_x_exact`: as written.
    case 'string': return [`${c} text`, `${c}_exact text[]`];
    case 'token':
    case 'reference': return [`${c} text[]`];
    // [lo, hi): partial dates become ranges ("1970" is the whole year).
    case 'date': return [`${c}_lo timestamptz`, `${c}_hi timestamptz`];
  }
}

/**
 * The current recipe for a resource type's tables, run as the owner role. It builds what
 * migrations 002-006 built and 020, 021, 024 and 025 then changed (test/db/resource-recipe.test.ts
 * compares the two catalogs):
 *  - `<table>` (current versions) with its typed search columns and `<table>_history` (every
 *    version, appended by trigger); no foreign key to clinic (025: it locked the clinic row);
 *  - the unique index on id carrying what picking a search page needs (024), a btree per date;
 *  - `<table>_search`, the index RLS can use, kept by trigger (020);
 *  - on all three: RLS enabled and forced, clinic isolation through `(select app_clinic_id())`
 *    (021) and the RESTRICTIVE patient compartment policy (db/compartment.ts);
 *  - the app role's grants: no DELETE or TRUNCATE (deletion is logical, history insert-only).
 */
export async function createResourceType(knex: Knex, spec: ResourceTableSpec): Promise<void> {
  const { table, compartment } = spec;
  const hasPatientCol = compartment === 'patient_id';
  const patientCol = hasPatientCol ? 'patient_id uuid,' : '';
  // clinic_id is a key column (not an INCLUDE) so every unique key holds the distribution column (Citus).
  // What a version row holds, in the current table and its history alike.
  const versionColumns = `id uuid not null, clinic_id uuid not null, version_id integer not null, last_updated timestamptz not null,
      deleted boolean not null default false, ${patientCol} resource jsonb not null,`;
  // A type with a patient compartment carries its v3-Confidentiality label (R/V) and the care policy (032).
  const labelled = compartment === 'self' || compartment === 'patient_id';
  const labelCol = labelled ? `security_label text check (security_label in ('R', 'V')),` : '';
  const idIncludes = [...(hasPatientCol ? ['patient_id'] : []), 'deleted', 'last_updated'];
  await knex.raw(`
    create table ${table} (
      ${versionColumns}
      ${spec.search.flatMap(searchColumns).map((c) => `${c},`).join('\n      ')}
      ${labelCol}
      primary key (clinic_id, id)
    );
    create unique index ${table}_id on ${table} (id, clinic_id) include (${idIncludes.join(', ')});
    create index ${table}_last_updated on ${table} (clinic_id, last_updated);
    ${hasPatientCol ? `create index ${table}_patient on ${table} (clinic_id, patient_id);` : ''}
    ${spec.search.filter((s) => s.type === 'date').map(({ name }) => {
      const c = searchColumnName(name);
      return `create index ${table}_${c} on ${table} (clinic_id, ${c}_lo, ${c}_hi);`;
    }).join('\n    ')}

    create table ${table}_history (
      ${versionColumns}
      ${labelCol}
      primary key (clinic_id, id, version_id)
    );
    create index ${table}_history_updated on ${table}_history (clinic_id, last_updated);
  `);
  for (const t of [table, `${table}_history`]) {
    const policy = compartmentPolicy(compartment, t, compartment === 'self' ? 'id' : 'patient_id');
    await knex.raw(`
      alter table ${t} enable row level security;
      alter table ${t} force row level security;
      create policy isolate_clinic on ${t}
        using (clinic_id = (select app_clinic_id())) with check (clinic_id = (select app_clinic_id()));
      create policy patient_compartment on ${t} as restrictive using (${policy.using}) with check (${policy.check});
    `);
  }
  if (labelled) {
    await knex.raw(`
      create policy care_team on ${table} as restrictive using (${carePolicy(compartment)}) with check (${careCheck(compartment)});
      create policy care_team on ${table}_history as restrictive using (${careHistoryPolicy(table, compartment)}) with check (${careCheck(compartment)});
    `);
  }
  const histCols = ['id', 'clinic_id', 'version_id', 'last_updated', 'deleted', ...(hasPatientCol ? ['patient_id'] : []), 'resource', ...(labelled ? ['security_label'] : [])];
  await knex.raw(`
    ${keepHistoryFunction(table, histCols)}
    create trigger keep_history after insert or update on ${table} for each row execute function ${table}_keep_history();
    grant select, insert, update on ${table} to ${APP_ROLE};
    grant select, insert on ${table}_history to ${APP_ROLE};
  `);
  await createSearchIndex(knex, table, spec);
}
