import type { Knex } from 'knex';
import { APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * bulk_export: one row per Bulk Data export job (server/fhir/bulk). A job belongs to its clinic and
 * to the user who started it: RLS (forced) shows it to nobody else, so another clinic's or another
 * user's job reads as missing. A patient/ token sees only the jobs of its own compartment. One job
 * runs per user at a time (the partial unique index). Rows are kept until the owner deletes them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create table bulk_export (
      id uuid not null,
      clinic_id uuid not null references clinic(id),
      owner_id uuid not null,
      status text not null check (status in ('running', 'completed', 'failed', 'cancelled')),
      level text not null check (level in ('system', 'patient')),
      request text not null,
      types text[] not null,
      since timestamptz,
      transaction_time timestamptz not null,
      -- The patient compartment RLS confined the kick-off to (patient/ tokens); every page reads under it.
      compartment_patient_id uuid,
      -- Who exports, as the token said (scopes, client, fhirUser, token id): each page is decided by it again.
      principal jsonb not null,
      output jsonb not null default '[]',
      error jsonb not null default '[]',
      progress text not null default '',
      heartbeat_at timestamptz not null default now(),
      created_at timestamptz not null default now(),
      finished_at timestamptz,
      primary key (clinic_id, id)
    );
    create unique index bulk_export_one_running on bulk_export (clinic_id, owner_id) where status = 'running';

    alter table bulk_export enable row level security;
    alter table bulk_export force row level security;
    create policy isolate_owner on bulk_export
      using (clinic_id = app_clinic_id() and owner_id = app_user_id())
      with check (clinic_id = app_clinic_id() and owner_id = app_user_id());
    create policy patient_compartment on bulk_export as restrictive
      using (app_patient_id() is null or compartment_patient_id = app_patient_id())
      with check (app_patient_id() is null or compartment_patient_id = app_patient_id());

    -- At start, jobs whose runner stopped beating are marked failed, across clinics; only this
    -- function turns the sweep policy on, for its own duration, and it changes nothing else.
    create policy interrupted_sweep on bulk_export to ${OWNER_ROLE}
      using (current_setting('app.bulk_export_sweep', true) = 'on') with check (current_setting('app.bulk_export_sweep', true) = 'on');
    create function bulk_export_fail_interrupted(p_stale interval) returns integer language plpgsql security definer
      set search_path = public, pg_temp
      as $f$
      declare n integer;
      begin
        perform set_config('app.bulk_export_sweep', 'on', true);
        update bulk_export set status = 'failed', finished_at = now(),
               error = error || jsonb_build_array('The export was interrupted by a server restart')
         where status = 'running' and heartbeat_at < now() - p_stale;
        get diagnostics n = row_count;
        perform set_config('app.bulk_export_sweep', '', true);
        return n;
      end $f$;
    revoke all on function bulk_export_fail_interrupted(interval) from public;

    grant select, insert, update, delete on bulk_export to ${APP_ROLE};
    grant execute on function bulk_export_fail_interrupted(interval) to ${APP_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: export jobs are removed by their owners, not by a migration');
}
