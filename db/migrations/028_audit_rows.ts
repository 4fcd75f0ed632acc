import type { Knex } from 'knex';
import { APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * Audit rows that cost close to a small insert. An AuditEvent was ~1.9 KB of JSON, ten text[]
 * search columns, three btrees and, through a trigger, a search-index row per patient and agent.
 * Now a row holds the facts compliance searches use as typed columns (the BALP AuditEvent is
 * rendered from them by server/audit/render.ts), with one btree per way a trail is entered:
 * by id, by clinic and date, by patient and date, by user and date. An event about several
 * patients (a search page) also writes one `audit_event_patient` row per patient, in the same
 * statement, so "who saw this patient" finds it.
 *
 * Rows written before this migration keep their stored AuditEvent in `legacy` (answered as it was)
 * with the typed columns extracted from it, so every search finds them as before.
 *
 * Append-only as before: INSERT and SELECT for the app role, a trigger refusing UPDATE, DELETE and
 * TRUNCATE for everyone, monthly partitions, the same RLS (read in the clinic, insert for the clinic
 * the request named, patient compartment restrictive). Events that name no clinic (they had
 * clinic_id NULL) are kept under the all-zero clinic, which no member can read: clinic_id is NOT
 * NULL and leads the primary key, as distributing the table by clinic (Citus) needs.
 */
const GUARDS = (t: string) => `
  alter table ${t} enable row level security;
  alter table ${t} force row level security;
  create policy isolate_clinic_read on ${t} for select using (clinic_id = (select app_clinic_id()));
  create policy record_for_requested_clinic on ${t} for insert with check (clinic_id = coalesce(app_requested_clinic_id(), '00000000-0000-0000-0000-000000000000'::uuid));
  create policy patient_compartment on ${t} as restrictive for select using (app_patient_id() is null or patient_id = app_patient_id());
  create trigger append_only before update or delete on ${t} for each row execute function audit_event_append_only();
  create trigger append_only_truncate before truncate on ${t} for each statement execute function audit_event_append_only();
  grant select, insert on ${t} to ${APP_ROLE};
`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    -- The old rows step aside into a plain table (read through a policy that lives for this migration only).
    create policy carry_over on audit_event for select to ${OWNER_ROLE} using (true);
    create table audit_event_v1 as select id, clinic_id, last_updated, patient_id, sp_patient, resource from audit_event;
    drop table audit_event_search cascade;
    drop table audit_event cascade;
    drop function if exists audit_event_search_sync();

    create table audit_event (
      id uuid not null,
      clinic_id uuid not null,
      last_updated timestamptz not null,
      type text not null,
      subtype text not null,
      action text not null,
      outcome text not null,
      outcome_desc text,
      user_id text,
      fhir_user text,
      client_id text,
      role text,
      source_ip text,
      purpose_of_use text,
      request_id text,
      patient_id uuid,
      patient_ids uuid[],
      entity_type text,
      entity_id text,
      entity_version text,
      related text[],
      query text,
      detail jsonb,
      legacy jsonb,
      primary key (clinic_id, id, last_updated)
    ) partition by range (last_updated);
    create index audit_event_clinic_date on audit_event (clinic_id, last_updated);
    create index audit_event_patient_date on audit_event (clinic_id, patient_id, last_updated) where patient_id is not null;
    create index audit_event_user_date on audit_event (clinic_id, user_id, last_updated) where user_id is not null;
    ${GUARDS('audit_event')}

    create table audit_event_patient (
      clinic_id uuid not null,
      patient_id uuid not null,
      last_updated timestamptz not null,
      id uuid not null
    ) partition by range (last_updated);
    create index audit_event_patient_lookup on audit_event_patient (clinic_id, patient_id, last_updated) include (id);
    ${GUARDS('audit_event_patient')}

    create or replace function audit_event_ensure_partitions(months_ahead integer) returns void language plpgsql as $f$
    declare m date; part text;
    begin
      for i in -1..least(months_ahead, 24) loop
        m := (date_trunc('month', now()) + make_interval(months => i))::date;
        foreach part in array array['audit_event_' || to_char(m, 'YYYYMM'), 'audit_event_patient_' || to_char(m, 'YYYYMM')] loop
          if to_regclass(part) is null then
            begin
              execute format('create table %I partition of %I for values from (%L) to (%L)',
                part, regexp_replace(part, '_\\d{6}$', ''), m, (m + interval '1 month')::date);
              execute format('alter table %I enable row level security', part);
              execute format('alter table %I force row level security', part);
              execute format('create trigger append_only_truncate before truncate on %I for each statement execute function audit_event_append_only()', part);
            exception when others then
              raise warning 'audit partition % not created: %', part, sqlerrm;
            end;
          end if;
        end loop;
      end loop;
    end $f$;
    create table audit_event_default partition of audit_event default;
    create table audit_event_patient_default partition of audit_event_patient default;
    alter table audit_event_default enable row level security;
    alter table audit_event_default force row level security;
    alter table audit_event_patient_default enable row level security;
    alter table audit_event_patient_default force row level security;
    create trigger append_only_truncate before truncate on audit_event_default for each statement execute function audit_event_append_only();
    create trigger append_only_truncate before truncate on audit_event_patient_default for each statement execute function audit_event_append_only();
    -- Partitions for every month the old rows cover, then the months ahead.
    do $$
    declare m date;
    begin
      for m in select distinct date_trunc('month', last_updated)::date from audit_event_v1 where last_updated < date_trunc('month', now()) - interval '1 month' loop
        execute format('create table %I partition of audit_event for values from (%L) to (%L)', 'audit_event_' || to_char(m, 'YYYYMM'), m, (m + interval '1 month')::date);
        execute format('create table %I partition of audit_event_patient for values from (%L) to (%L)', 'audit_event_patient_' || to_char(m, 'YYYYMM'), m, (m + interval '1 month')::date);
      end loop;
    end $$;
    select audit_event_ensure_partitions(2);
    do $$
    declare p record;
    begin
      for p in select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
                where i.inhparent in ('audit_event'::regclass, 'audit_event_patient'::regclass)
      loop
        execute format('alter table %I enable row level security', p.relname);
        execute format('alter table %I force row level security', p.relname);
      end loop;
    end $$;

    -- The old rows, with the facts searches use taken from their stored AuditEvent.
    create policy carry_over on audit_event for insert to ${OWNER_ROLE} with check (true);
    create policy carry_over on audit_event_patient for insert to ${OWNER_ROLE} with check (true);
    insert into audit_event (id, clinic_id, last_updated, type, subtype, action, outcome, outcome_desc, user_id, fhir_user, client_id,
                             role, source_ip, patient_id, patient_ids, entity_type, entity_id, related, legacy)
    select o.id, coalesce(o.clinic_id, '00000000-0000-0000-0000-000000000000'::uuid), o.last_updated,
           case when o.resource->'type'->>'code' = 'rest' then 'rest' else 'auth' end,
           coalesce(o.resource->'subtype'->0->>'code', ''),
           coalesce(o.resource->>'action', 'E'),
           coalesce(o.resource->>'outcome', '0'),
           o.resource->>'outcomeDesc',
           (select a->>'altId' from jsonb_array_elements(o.resource->'agent') a where a \\? 'altId' limit 1),
           (select a->'who'->>'reference' from jsonb_array_elements(o.resource->'agent') a where a \\? 'altId' limit 1),
           (select a->'who'->'identifier'->>'value' from jsonb_array_elements(o.resource->'agent') a
             where a->'type'->'coding'->0->>'code' = '110150' limit 1),
           (select a->'role'->0->'coding'->0->>'code' from jsonb_array_elements(o.resource->'agent') a where a \\? 'role' limit 1),
           (select a->'network'->>'address' from jsonb_array_elements(o.resource->'agent') a where a \\? 'network' limit 1),
           o.patient_id,
           (select array_agg(substr(p, 9)::uuid) from unnest(o.sp_patient) p where p ~ '^Patient/[0-9a-f-]{36}$'
             having count(*) > 1),
           coalesce(split_part(o.resource->'entity'->0->'what'->>'reference', '/', 1), o.resource->'entity'->0->'what'->>'display'),
           split_part(o.resource->'entity'->0->'what'->>'reference', '/', 2),
           (select array_agg(e->'what'->>'reference') from jsonb_array_elements(o.resource->'entity') e
             where e->'what' \\? 'reference' and e->'role'->>'code' = '4'),
           o.resource
      from audit_event_v1 o;
    -- From the old rows (the new table's rows are not visible to the owner under its forced RLS).
    insert into audit_event_patient (clinic_id, patient_id, last_updated, id)
    select coalesce(o.clinic_id, '00000000-0000-0000-0000-000000000000'::uuid), x.p, o.last_updated, o.id
      from audit_event_v1 o
      cross join lateral (select array_agg(substr(p, 9)::uuid) ids from unnest(o.sp_patient) p where p ~ '^Patient/[0-9a-f-]{36}$' having count(*) > 1) m
      cross join lateral unnest(m.ids) x(p);
    drop policy carry_over on audit_event;
    drop policy carry_over on audit_event_patient;

    drop table audit_event_v1;
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: the audit trail is never dropped');
}
