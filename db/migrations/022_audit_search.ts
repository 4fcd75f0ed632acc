import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';

/**
 * The compliance query (AuditEvent by patient and date) for a table that grows by one row per
 * request:
 *  - AuditEvent `date` is `recorded`, which the server always writes equal to last_updated: it is
 *    searched on last_updated, the partition key (only the months asked for are scanned), so the
 *    btree on the sp_date columns goes (one index fewer to maintain on every insert).
 *  - the search index is keyed on (clinic, param, value, last_updated): a patient's events in a date
 *    range, newest first, come straight from the index, and each is then fetched from its own
 *    partition by its primary key (id, last_updated).
 *  - only the `Patient/<id>` form of a patient reference is indexed: the parameter has that one
 *    target, so a search always names it; the bare-id entries were never looked up.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    drop index if exists audit_event_date;
    drop index if exists audit_event_search_value;
    create index audit_event_search_value on audit_event_search (clinic_id, param, value, last_updated) include (id, patient_id);

    create or replace function audit_event_search_sync() returns trigger language plpgsql as $f$
    begin
      insert into audit_event_search (clinic_id, id, last_updated, patient_id, param, value)
      select new.clinic_id, new.id, new.last_updated, new.patient_id, v.param, v.value from (
        select 'patient'::text, p from unnest(new.sp_patient) p where p like 'Patient/%'
        union all select 'agent'::text, unnest(new.sp_agent)
      ) v(param, value) where v.value is not null;
      return null;
    end $f$;
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: a later migration changes the audit search index again');
}
