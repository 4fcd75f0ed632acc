import type { Knex } from 'knex';
import { APP_ROLE } from './roles';

/** Search parameter types that get typed, indexed columns on write. */
export type SearchColumnType = 'string' | 'token' | 'date' | 'reference';
export interface SearchColumn { name: string; type: SearchColumnType }

/** Column base name of a search parameter: `address-city` -> `sp_address_city`. */
export function searchColumnName(param: string): string {
  return `sp_${param.replace(/-/g, '_')}`;
}

/** SQL column definitions and indexes of one search parameter. */
function searchColumnSql(table: string, col: SearchColumn): { columns: string[]; indexes: string[] } {
  const c = searchColumnName(col.name);
  switch (col.type) {
    case 'string':
      // `sp_x`: normalised values joined by \x1f (prefix/contains via trigrams); `sp_x_exact`: as written.
      return {
        columns: [`${c} text`, `${c}_exact text[]`],
        indexes: [
          `create index ${table}_${c}_trgm on ${table} using gin (clinic_id, ${c} gin_trgm_ops)`,
          `create index ${table}_${c}_exact on ${table} using gin (clinic_id, ${c}_exact)`,
        ],
      };
    case 'token':
    case 'reference':
      return { columns: [`${c} text[]`], indexes: [`create index ${table}_${c} on ${table} using gin (clinic_id, ${c})`] };
    case 'date':
      // [lo, hi): partial dates become ranges ("1970" is the whole year).
      return {
        columns: [`${c}_lo timestamptz`, `${c}_hi timestamptz`],
        indexes: [`create index ${table}_${c} on ${table} (clinic_id, ${c}_lo, ${c}_hi)`],
      };
  }
}

/**
 * FROZEN: the recipe as migrations 002-006 ran it (020, 024 and 025 then changed what it built);
 * a new type uses createResourceType in db/resource-recipe.ts.
 *
 * The standard pair of tables for a FHIR resource type: `<table>` (current versions) and
 * `<table>_history` (every version), both isolated by clinic and, for patient/ tokens, confined
 * to the patient compartment by a RESTRICTIVE policy. Run as the owner role.
 */
export async function createResourceTables(
  knex: Knex,
  table: string,
  opts: { compartment: 'self' | 'patient_id'; search: SearchColumn[] },
): Promise<void> {
  const extra = opts.search.map((s) => searchColumnSql(table, s));
  const patientCol = opts.compartment === 'self' ? '' : 'patient_id uuid,';
  const compartmentExpr = opts.compartment === 'self' ? 'id' : 'patient_id';
  await knex.raw(`
    create table ${table} (
      id uuid not null,
      clinic_id uuid not null references clinic(id),
      version_id integer not null,
      last_updated timestamptz not null,
      deleted boolean not null default false,
      ${patientCol}
      resource jsonb not null,
      ${extra.flatMap((e) => e.columns).map((c) => `${c},`).join('\n      ')}
      primary key (clinic_id, id)
    );
    create unique index ${table}_id on ${table} (id);
    create index ${table}_last_updated on ${table} (clinic_id, last_updated);
    ${opts.compartment === 'patient_id' ? `create index ${table}_patient on ${table} (clinic_id, patient_id);` : ''}
    ${extra.flatMap((e) => e.indexes).join(';\n    ')};

    create table ${table}_history (
      id uuid not null,
      clinic_id uuid not null references clinic(id),
      version_id integer not null,
      last_updated timestamptz not null,
      deleted boolean not null default false,
      ${patientCol}
      resource jsonb not null,
      primary key (clinic_id, id, version_id)
    );
    create index ${table}_history_updated on ${table}_history (clinic_id, last_updated);
  `);
  for (const t of [table, `${table}_history`]) {
    await knex.raw(`
      alter table ${t} enable row level security;
      alter table ${t} force row level security;
      -- (select ...): evaluated once per statement, not per row (see migration 021).
      create policy isolate_clinic on ${t}
        using (clinic_id = (select app_clinic_id())) with check (clinic_id = (select app_clinic_id()));
      create policy patient_compartment on ${t} as restrictive
        using (app_patient_id() is null or ${compartmentExpr} = app_patient_id())
        with check (app_patient_id() is null or ${compartmentExpr} = app_patient_id());
    `);
  }
  // Every write of the current row appends its version to the history, in the same statement.
  const histCols = ['id', 'clinic_id', 'version_id', 'last_updated', 'deleted', ...(opts.compartment === 'self' ? [] : ['patient_id']), 'resource'];
  await knex.raw(`
    create function ${table}_keep_history() returns trigger language plpgsql as $f$
    begin
      insert into ${table}_history (${histCols.join(', ')}) values (${histCols.map((c) => `new.${c}`).join(', ')});
      return null;
    end $f$;
    create trigger keep_history after insert or update on ${table} for each row execute function ${table}_keep_history();
  `);
  // Logical delete only: the app may not DELETE or TRUNCATE, and history is insert-only.
  await knex.raw(`
    grant select, insert, update on ${table} to ${APP_ROLE};
    grant select, insert on ${table}_history to ${APP_ROLE};
  `);
}
