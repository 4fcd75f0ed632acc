import type { Knex } from 'knex';
import { APP_ROLE, KEEPER_ROLE, OWNER_ROLE, SEALER_ROLE } from '../roles';

/**
 * Audit rows you can prove (README, "Audit integrity"):
 *  - every row carries the SHA-256 of its canonical form (`hash`, written with the row in the
 *    request's transaction) and the id of the transaction that wrote it (`tx`, xid8, never wraps);
 *  - the sealer appends rows to a per-clinic hash chain (`audit_seal_leaf`, a sequence number per
 *    clinic) once every transaction that could still add a row before them has ended
 *    (pg_snapshot_xmin), and records signed checkpoints (`audit_checkpoint`) whose key never enters
 *    the database;
 *  - the sealer works as `fhir_sealer`, which reads only the id, clinic, time, hash and transaction
 *    of audit rows (column grants): no patient, user or query ever reaches it.
 * Leaves and checkpoints are append-only like the rows; a checkpoint's anchoring time is the one
 * column that may be set once. Rows written before this migration get their hash at the next start.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`do $$ begin
    if not exists (select 1 from pg_roles where rolname = '${SEALER_ROLE}') then create role ${SEALER_ROLE} nologin; end if;
    if not exists (select 1 from pg_roles where rolname = '${KEEPER_ROLE}') then create role ${KEEPER_ROLE} nologin; end if;
  end $$`);
  await knex.raw(`grant ${KEEPER_ROLE} to current_user`);
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    alter table audit_event add column hash bytea, add column tx xid8;
    alter table audit_event alter column tx set default pg_current_xact_id();
    create index audit_event_tx on audit_event (tx, id);

    create table audit_seal_leaf (
      clinic_id uuid not null,
      seq bigint not null,
      audit_id uuid not null,
      last_updated timestamptz not null,
      hash bytea not null,
      primary key (clinic_id, seq)
    );
    create index audit_seal_leaf_date on audit_seal_leaf (clinic_id, last_updated);
    create unique index audit_seal_leaf_row on audit_seal_leaf (clinic_id, audit_id);

    create table audit_checkpoint (
      clinic_id uuid not null,
      tree_size bigint not null,
      head bytea not null,
      sealed_at timestamptz not null,
      -- The signed statement (canonical JSON of clinic, size, head, time) and its Ed25519 signature.
      statement text not null,
      signature bytea not null,
      key_id text not null,
      anchored_at timestamptz,
      primary key (clinic_id, tree_size)
    );

    -- Where the sealer stands: every row of a transaction below horizon is sealed, and within the
    -- last batch every row up to (cursor_tx, cursor_id).
    create table audit_seal_state (
      singleton boolean primary key default true check (singleton),
      cursor_tx xid8 not null,
      cursor_id uuid not null,
      updated_at timestamptz not null default now()
    );
    insert into audit_seal_state (cursor_tx, cursor_id) values ('0'::xid8, '00000000-0000-0000-0000-000000000000');

    -- Existing clinics' copies of the default roles learn the verification key (server/auth/permissions.ts).
    update role set permissions = jsonb_set(permissions, '{compliance,auditEvents,verify}', 'true')
     where name in ('compliance-officer', 'clinic-admin') and jsonb_typeof(permissions->'compliance'->'auditEvents') = 'object';
    -- Retention (server/audit/retention.ts): a clinic keeps its trail this many years, at least one.
    alter table clinic add column audit_retention_years integer not null default 6 check (audit_retention_years >= 1);
    -- What retention removed: a signed record per cut (the chain's head where the kept trail begins).
    create table audit_retention_cut (
      clinic_id uuid not null,
      through_seq bigint not null,
      head bytea not null,
      removed_rows bigint not null,
      export_key text not null,
      statement text not null,
      signature bytea not null,
      key_id text not null,
      created_at timestamptz not null default now(),
      primary key (clinic_id, through_seq)
    );
    alter table audit_retention_cut enable row level security;
    alter table audit_retention_cut force row level security;
    create policy isolate_clinic_read on audit_retention_cut for select using (clinic_id = (select app_clinic_id()));
    grant select on audit_retention_cut to ${APP_ROLE};

    create or replace function audit_seal_append_only() returns trigger language plpgsql as $f$
    begin
      -- Retention removes sealed leaves only inside its own transaction, behind its signed record.
      if tg_op = 'DELETE' and current_setting('app.audit_retention', true) = 'on' then return old; end if;
      if tg_op = 'UPDATE' and tg_table_name = 'audit_checkpoint' and old.anchored_at is null
         and (old.clinic_id, old.tree_size, old.head, old.sealed_at, old.statement, old.signature, old.key_id)
             is not distinct from (new.clinic_id, new.tree_size, new.head, new.sealed_at, new.statement, new.signature, new.key_id) then
        return new;
      end if;
      raise exception 'the audit seal is append-only' using errcode = '42501';
    end $f$;
    create trigger append_only before update or delete on audit_seal_leaf for each row execute function audit_seal_append_only();
    create trigger append_only before update or delete on audit_checkpoint for each row execute function audit_seal_append_only();
    create trigger append_only_truncate before truncate on audit_seal_leaf for each statement execute function audit_seal_append_only();
    create trigger append_only_truncate before truncate on audit_checkpoint for each statement execute function audit_seal_append_only();

    alter table audit_seal_leaf enable row level security;
    alter table audit_seal_leaf force row level security;
    alter table audit_checkpoint enable row level security;
    alter table audit_checkpoint force row level security;
    alter table audit_seal_state enable row level security;
    alter table audit_seal_state force row level security;
    -- A clinic's members read its seal (the verification runs as the compliance officer).
    create policy isolate_clinic_read on audit_seal_leaf for select using (clinic_id = (select app_clinic_id()));
    create policy isolate_clinic_read on audit_checkpoint for select using (clinic_id = (select app_clinic_id()));
    grant select on audit_seal_leaf, audit_checkpoint to ${APP_ROLE};
    -- Where the sealer stands holds no clinic's data: every verification reads it.
    create policy readable on audit_seal_state for select to ${APP_ROLE} using (true);
    grant select on audit_seal_state to ${APP_ROLE};
    -- The sealer: every clinic, append only, and of the rows only what the chain needs.
    create policy sealer on audit_event for select to ${SEALER_ROLE} using (true);
    create policy sealer on audit_seal_leaf for all to ${SEALER_ROLE} using (true) with check (true);
    create policy sealer on audit_checkpoint for all to ${SEALER_ROLE} using (true) with check (true);
    create policy sealer on audit_seal_state for all to ${SEALER_ROLE} using (true) with check (true);
    grant select (id, clinic_id, last_updated, hash, tx) on audit_event to ${SEALER_ROLE};
    grant select, insert on audit_seal_leaf to ${SEALER_ROLE};
    grant select, insert, update (anchored_at) on audit_checkpoint to ${SEALER_ROLE};
    grant select, update on audit_seal_state to ${SEALER_ROLE};
  `);
  await knex.raw(`
    -- Rows written before this migration get their hash once, at the server's start
    -- (server/audit/legacy-hash.ts computes the canonical form): that and nothing else.
    -- The audit keeper (held by the migration account, like fhir_admin): hashes rows written before
    -- the seal and applies retention, each bounded by the triggers; the owner still sees no row.
    create policy keeper on audit_event for all to ${KEEPER_ROLE} using (true) with check (true);
    create policy keeper on audit_event_patient for all to ${KEEPER_ROLE} using (true);
    create policy keeper on audit_seal_leaf for all to ${KEEPER_ROLE} using (true);
    create policy keeper on audit_checkpoint for select to ${KEEPER_ROLE} using (true);
    create policy keeper on audit_retention_cut for all to ${KEEPER_ROLE} using (true) with check (true);
    grant select, delete on audit_event, audit_event_patient, audit_seal_leaf to ${KEEPER_ROLE};
    grant update (hash, tx) on audit_event to ${KEEPER_ROLE};
    grant select on audit_checkpoint to ${KEEPER_ROLE};
    grant select, insert on audit_retention_cut to ${KEEPER_ROLE};
    create or replace function audit_event_append_only() returns trigger language plpgsql as $f$
    begin
      if tg_op = 'UPDATE' and to_jsonb(old) \\? 'hash' and to_jsonb(old)->'hash' = 'null'::jsonb and to_jsonb(new)->'hash' <> 'null'::jsonb
         and to_jsonb(old) - 'hash' - 'tx' = to_jsonb(new) - 'hash' - 'tx' then
        return new;
      end if;
      if tg_op = 'DELETE' and current_setting('app.audit_retention', true) = 'on' then return old; end if;
      raise exception 'audit_event is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end $f$;
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: the audit trail is never dropped');
}
