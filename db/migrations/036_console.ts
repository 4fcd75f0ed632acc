import type { Knex } from 'knex';
import { ADMIN_ROLE, APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * The compliance console's own state (server/console): per-clinic alert thresholds (a clinic
 * without a row uses the column defaults) and the review of an alert (who, when, a note). Both are
 * clinic rows under the same RLS as every tenant table; a review is never edited or removed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create table console_alert_settings (
      clinic_id uuid primary key references clinic(id),
      patients_per_hour integer not null default 50 check (patients_per_hour between 2 and 100000),
      refusals_per_hour integer not null default 5 check (refusals_per_hour between 2 and 100000),
      hours_start integer not null default 7 check (hours_start between 0 and 23),
      hours_end integer not null default 20 check (hours_end between 1 and 24),
      time_zone text not null default 'UTC' check (length(time_zone) between 1 and 64),
      updated_at timestamptz not null default now()
    );
    create table console_alert_review (
      clinic_id uuid not null references clinic(id),
      alert_key text not null check (length(alert_key) between 1 and 300),
      reviewed_by uuid not null,
      note text not null check (length(note) between 1 and 2000),
      reviewed_at timestamptz not null default now(),
      primary key (clinic_id, alert_key)
    );
    create trigger append_only before update or delete on console_alert_review for each row execute function audit_event_append_only();
    alter table console_alert_settings enable row level security;
    alter table console_alert_settings force row level security;
    alter table console_alert_review enable row level security;
    alter table console_alert_review force row level security;
    create policy isolate_clinic on console_alert_settings using (clinic_id = (select app_clinic_id()));
    create policy isolate_clinic on console_alert_review using (clinic_id = (select app_clinic_id()))
      with check (clinic_id = (select app_clinic_id()) and reviewed_by = app_user_id());
    create policy admin_manage on console_alert_settings to ${ADMIN_ROLE} using (true) with check (true);
    grant select on console_alert_settings to ${APP_ROLE};
    grant select, insert on console_alert_review to ${APP_ROLE};
    grant select, insert, update on console_alert_settings to ${ADMIN_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw('drop table console_alert_review; drop table console_alert_settings;');
  await knex.raw('reset role');
}
