import type { Knex } from 'knex';
import type { SearchColumn } from '../resource-table';
import { APP_ROLE, OWNER_ROLE } from '../roles';
import { backfillSearchIndex, createSearchIndex, ginIndexesOf } from '../search-index';

// Frozen copies of the search columns of migrations 002, 004, 005 and 006.
const TABLES: Array<{ table: string; compartment: 'self' | 'patient_id'; search: SearchColumn[] }> = [
  {
    table: 'patient', compartment: 'self', search: [
      { name: 'identifier', type: 'token' }, { name: 'name', type: 'string' }, { name: 'family', type: 'string' },
      { name: 'given', type: 'string' }, { name: 'birthdate', type: 'date' }, { name: 'gender', type: 'token' },
      { name: 'telecom', type: 'token' }, { name: 'phone', type: 'token' }, { name: 'email', type: 'token' },
      { name: 'address', type: 'string' }, { name: 'address-city', type: 'string' }, { name: 'address-postalcode', type: 'string' },
      { name: 'active', type: 'token' }, { name: 'general-practitioner', type: 'reference' }, { name: 'organization', type: 'reference' },
    ],
  },
  {
    table: 'appointment', compartment: 'patient_id', search: [
      { name: 'identifier', type: 'token' }, { name: 'patient', type: 'reference' }, { name: 'actor', type: 'reference' },
      { name: 'practitioner', type: 'reference' }, { name: 'date', type: 'date' }, { name: 'status', type: 'token' },
      { name: 'service-type', type: 'token' }, { name: 'appointment-type', type: 'token' },
    ],
  },
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

const AUDIT_GIN = ['agent', 'entity', 'patient', 'action', 'type', 'subtype', 'outcome', 'source', 'entity-type', 'agent-role'];
/** The AuditEvent parameters a compliance officer starts from: who was seen, and who looked. */
export const AUDIT_INDEXED = ['patient', 'agent'];

/**
 * Search that RLS can use: the search index tables of db/search-index.ts replace the GIN indexes
 * (which, under RLS, could only ever be scanned for clinic_id). AuditEvent gets the same for its
 * patient and agent parameters, partitioned and append-only like audit_event itself, and a btree
 * for `date`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  for (const t of TABLES) {
    await knex.raw(ginIndexesOf(t.table, t.search).map((i) => `drop index if exists ${i};`).join('\n'));
    await createSearchIndex(knex, t.table, t);
    await backfillSearchIndex(knex, t.table, OWNER_ROLE, t);
  }
  await knex.raw(`
    ${AUDIT_GIN.map((p) => `drop index if exists audit_event_sp_${p.replace(/-/g, '_')};`).join('\n    ')}
    create index audit_event_date on audit_event (clinic_id, sp_date_lo, sp_date_hi);

    create table audit_event_search (
      clinic_id uuid,
      id uuid not null,
      last_updated timestamptz not null,
      patient_id uuid,
      param text collate "C" not null,
      value text collate "C" not null
    ) partition by range (last_updated);
    create index audit_event_search_value on audit_event_search (clinic_id, param, value) include (id, last_updated, patient_id);
    create trigger append_only before update or delete on audit_event_search for each row execute function audit_event_append_only();
    create trigger append_only_truncate before truncate on audit_event_search for each statement execute function audit_event_append_only();
    alter table audit_event_search enable row level security;
    alter table audit_event_search force row level security;
    create policy isolate_clinic_read on audit_event_search for select using (clinic_id = app_clinic_id());
    create policy record_for_requested_clinic on audit_event_search for insert
      with check (clinic_id is not distinct from app_requested_clinic_id());
    create policy patient_compartment on audit_event_search as restrictive for select
      using (app_patient_id() is null or patient_id = app_patient_id());
    grant select, insert on audit_event_search to ${APP_ROLE};

    -- Each monthly audit partition gets its search partition, with the same guards.
    create or replace function audit_event_ensure_partitions(months_ahead integer) returns void language plpgsql as $f$
    declare m date; part text;
    begin
      for i in -1..months_ahead loop
        m := (date_trunc('month', now()) + make_interval(months => i))::date;
        foreach part in array array['audit_event_' || to_char(m, 'YYYYMM'), 'audit_event_search_' || to_char(m, 'YYYYMM')] loop
          if to_regclass(part) is null then
            execute format('create table %I partition of %I for values from (%L) to (%L)',
              part, regexp_replace(part, '_\\d{6}$', ''), m, (m + interval '1 month')::date);
            execute format('alter table %I enable row level security', part);
            execute format('alter table %I force row level security', part);
            execute format('create trigger append_only_truncate before truncate on %I for each statement execute function audit_event_append_only()', part);
          end if;
        end loop;
      end loop;
    end $f$;
    create table audit_event_search_default partition of audit_event_search default;
    alter table audit_event_search_default enable row level security;
    alter table audit_event_search_default force row level security;
    create trigger append_only_truncate before truncate on audit_event_search_default for each statement execute function audit_event_append_only();
    select audit_event_ensure_partitions(12);

    create function audit_event_search_sync() returns trigger language plpgsql as $f$
    begin
      insert into audit_event_search (clinic_id, id, last_updated, patient_id, param, value)
      select new.clinic_id, new.id, new.last_updated, new.patient_id, v.param, v.value from (
        ${AUDIT_INDEXED.map((p) => `select '${p}'::text, unnest(new.sp_${p})`).join(' union all ')}
      ) v(param, value) where v.value is not null;
      return null;
    end $f$;
    create trigger search_sync after insert on audit_event for each row execute function audit_event_search_sync();

    create policy search_backfill on audit_event for select to ${OWNER_ROLE} using (true);
    create policy search_backfill on audit_event_search for insert to ${OWNER_ROLE} with check (true);
    insert into audit_event_search (clinic_id, id, last_updated, patient_id, param, value)
    select a.clinic_id, a.id, a.last_updated, a.patient_id, v.param, v.value from audit_event a cross join lateral (
      ${AUDIT_INDEXED.map((p) => `select '${p}'::text, unnest(a.sp_${p})`).join(' union all ')}
    ) v(param, value) where v.value is not null;
    drop policy search_backfill on audit_event;
    drop policy search_backfill on audit_event_search;
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: search indexes are rebuilt by a new migration, not dropped');
}
