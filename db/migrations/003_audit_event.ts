import type { Knex } from 'knex';
import { APP_ROLE, OWNER_ROLE } from '../roles';
import { searchColumnName } from '../resource-table';

const TOKEN_OR_REF = ['agent', 'entity', 'patient', 'action', 'type', 'subtype', 'outcome', 'source', 'entity-type', 'agent-role'];

/**
 * AuditEvent: append-only for everyone (the app role has INSERT and SELECT only, and a trigger
 * refuses UPDATE, DELETE and TRUNCATE even for the owner), partitioned by month.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  const cols = TOKEN_OR_REF.map((p) => `${searchColumnName(p)} text[],`).join('\n      ');
  await knex.raw(`
    create table audit_event (
      id uuid not null,
      clinic_id uuid references clinic(id),
      version_id integer not null default 1,
      last_updated timestamptz not null,
      deleted boolean not null default false,
      patient_id uuid,
      resource jsonb not null,
      sp_date_lo timestamptz,
      sp_date_hi timestamptz,
      ${cols}
      primary key (id, last_updated)
    ) partition by range (last_updated);
    create index audit_event_id on audit_event (id);
    create index audit_event_clinic_date on audit_event (clinic_id, last_updated);
    create index audit_event_patient_date on audit_event (clinic_id, patient_id, last_updated);
    ${TOKEN_OR_REF.map((p) => `create index audit_event_${searchColumnName(p)} on audit_event using gin (clinic_id, ${searchColumnName(p)})`).join(';\n    ')};

    create function audit_event_append_only() returns trigger language plpgsql as $f$
    begin
      raise exception 'audit_event is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end $f$;

    -- Monthly partitions from one month back to months_ahead ahead, each with the same guards.
    create function audit_event_ensure_partitions(months_ahead integer) returns void language plpgsql as $f$
    declare m date; part text;
    begin
      for i in -1..months_ahead loop
        m := (date_trunc('month', now()) + make_interval(months => i))::date;
        part := 'audit_event_' || to_char(m, 'YYYYMM');
        if to_regclass(part) is null then
          execute format('create table %I partition of audit_event for values from (%L) to (%L)', part, m, (m + interval '1 month')::date);
          execute format('alter table %I enable row level security', part);
          execute format('alter table %I force row level security', part);
          execute format('create trigger append_only_truncate before truncate on %I for each statement execute function audit_event_append_only()', part);
        end if;
      end loop;
    end $f$;

    -- Row triggers on the parent are cloned onto every partition; TRUNCATE triggers are not.
    create trigger append_only before update or delete on audit_event for each row execute function audit_event_append_only();
    create trigger append_only_truncate before truncate on audit_event for each statement execute function audit_event_append_only();
    create table audit_event_default partition of audit_event default;
    alter table audit_event_default enable row level security;
    alter table audit_event_default force row level security;
    create trigger append_only_truncate before truncate on audit_event_default for each statement execute function audit_event_append_only();
    select audit_event_ensure_partitions(12);

    alter table audit_event enable row level security;
    alter table audit_event force row level security;
    create policy isolate_clinic_read on audit_event for select using (clinic_id = app_clinic_id());
    -- Refusals are recorded for the clinic the token named even without a membership there;
    -- events with no trustworthy clinic (a bad signature) are kept with clinic_id NULL for operators.
    create policy record_for_requested_clinic on audit_event for insert
      with check (clinic_id is not distinct from app_requested_clinic_id());
    create policy patient_compartment on audit_event as restrictive for select
      using (app_patient_id() is null or patient_id = app_patient_id());

    grant select, insert on audit_event to ${APP_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: the audit trail is never dropped');
}
