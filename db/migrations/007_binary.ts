import type { Knex } from 'knex';
import { APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * document_binary: one row per stored object (a Binary), the metadata the object store cannot be
 * trusted to hold. RLS exactly like the resource tables: isolate by clinic, and a RESTRICTIVE
 * policy confining patient/ tokens to their compartment. The key's clinic and patient segments are
 * checked against the row, and the patient must be one of the same clinic (composite foreign key).
 * Rows are never deleted: one that did not commit is gone with its transaction.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create table document_binary (
      id uuid not null,
      clinic_id uuid not null references clinic(id),
      patient_id uuid not null,
      -- The DocumentReference that attached it; NULL until one does (raw uploads).
      document_id uuid,
      object_key text not null,
      content_type text not null check (content_type in ('application/pdf', 'image/jpeg', 'image/png', 'image/webp')),
      size integer not null check (size between 1 and 10485760),
      sha1 text not null check (sha1 ~ '^[A-Za-z0-9+/]{27}=$'),
      owner_id uuid,
      created_at timestamptz not null default now(),
      primary key (clinic_id, id),
      foreign key (clinic_id, patient_id) references patient (clinic_id, id),
      check (object_key like 'clinics/' || clinic_id::text || '/patients/' || patient_id::text || '/%/' || id::text)
    );
    create unique index document_binary_id on document_binary (id);
    create unique index document_binary_key on document_binary (object_key);
    create index document_binary_patient on document_binary (clinic_id, patient_id);
    create index document_binary_document on document_binary (clinic_id, document_id);

    alter table document_binary enable row level security;
    alter table document_binary force row level security;
    create policy isolate_clinic on document_binary
      using (clinic_id = app_clinic_id()) with check (clinic_id = app_clinic_id());
    create policy patient_compartment on document_binary as restrictive
      using (app_patient_id() is null or patient_id = app_patient_id())
      with check (app_patient_id() is null or patient_id = app_patient_id());

    -- The orphan sweeper asks which of the keys it listed have a row, across clinics, and learns
    -- nothing else: only this function turns the lookup policy on, for its own duration.
    create policy orphan_sweep_lookup on document_binary for select to ${OWNER_ROLE}
      using (current_setting('app.binary_sweep', true) = 'on');
    create function document_binary_keys_known(p_keys text[]) returns setof text language plpgsql security definer
      set search_path = public, pg_temp
      as $f$
      begin
        perform set_config('app.binary_sweep', 'on', true);
        return query select object_key from document_binary where object_key = any(p_keys);
        perform set_config('app.binary_sweep', '', true);
      end $f$;
    revoke all on function document_binary_keys_known(text[]) from public;

    grant select, insert on document_binary to ${APP_ROLE};
    grant update (document_id) on document_binary to ${APP_ROLE};
    grant execute on function document_binary_keys_known(text[]) to ${APP_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: document metadata is never dropped by a migration');
}
