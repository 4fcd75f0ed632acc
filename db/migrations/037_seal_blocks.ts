import type { Knex } from 'knex';
import { APP_ROLE, KEEPER_ROLE, OWNER_ROLE, SEALER_ROLE } from '../roles';

/**
 * The seal's leaves are packed: one row per clinic per sealing round (`audit_seal_block`, the
 * round's audit ids, times and hashes as arrays in chain order) instead of one row with three
 * btree entries per audit row. The chain, its checkpoints and what `$verify` proves do not change;
 * the per-read cost of sealing does (README, "What the seal costs, measured").
 * Existing leaves move into blocks of at most 5000 consecutive sequence numbers; a gap in the old
 * leaves stays a gap between blocks, so `$verify` still reports it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create table audit_seal_block (
      clinic_id uuid not null,
      first_seq bigint not null,
      last_seq bigint not null,
      -- The earliest and latest row time in the block.
      min_time timestamptz not null,
      max_time timestamptz not null,
      ids uuid[] not null,
      times timestamptz[] not null,
      hashes bytea[] not null,
      primary key (clinic_id, first_seq),
      check (cardinality(ids) = last_seq - first_seq + 1 and cardinality(times) = cardinality(ids) and cardinality(hashes) = cardinality(ids))
    );
    -- A time range finds its blocks by their latest row, a run of sequence numbers by its end.
    create index audit_seal_block_time on audit_seal_block (clinic_id, max_time);
    create index audit_seal_block_last on audit_seal_block (clinic_id, last_seq);

    -- The same guard as the leaves had, with its checkpoint case nested: plpgsql does not stop at
    -- the first false operand, so an UPDATE of any other seal table failed on "old.anchored_at"
    -- (refused still, but not with the append-only message).
    create or replace function audit_seal_append_only() returns trigger language plpgsql as $f$
    begin
      -- Retention removes sealed blocks only inside its own transaction, behind its signed record.
      if tg_op = 'DELETE' and current_setting('app.audit_retention', true) = 'on' then return old; end if;
      if tg_op = 'UPDATE' and tg_table_name = 'audit_checkpoint' then
        if old.anchored_at is null
           and (old.clinic_id, old.tree_size, old.head, old.sealed_at, old.statement, old.signature, old.key_id)
               is not distinct from (new.clinic_id, new.tree_size, new.head, new.sealed_at, new.statement, new.signature, new.key_id) then
          return new;
        end if;
      end if;
      raise exception 'the audit seal is append-only' using errcode = '42501';
    end $f$;
    create trigger append_only before update or delete on audit_seal_block for each row execute function audit_seal_append_only();
    create trigger append_only_truncate before truncate on audit_seal_block for each statement execute function audit_seal_append_only();
    alter table audit_seal_block enable row level security;
    alter table audit_seal_block force row level security;
    create policy isolate_clinic_read on audit_seal_block for select using (clinic_id = (select app_clinic_id()));
    grant select on audit_seal_block to ${APP_ROLE};
    create policy sealer on audit_seal_block for all to ${SEALER_ROLE} using (true) with check (true);
    grant select, insert on audit_seal_block to ${SEALER_ROLE};
    create policy keeper on audit_seal_block for all to ${KEEPER_ROLE} using (true) with check (true);
    grant select, insert, delete on audit_seal_block to ${KEEPER_ROLE};
  `);
  // The keeper reads the old leaves past RLS (the owner sees none) and packs them.
  await knex.raw(`set local role ${KEEPER_ROLE}`);
  await knex.raw(`
    insert into audit_seal_block (clinic_id, first_seq, last_seq, min_time, max_time, ids, times, hashes)
    select clinic_id, min(seq), max(seq), min(last_updated), max(last_updated),
           array_agg(audit_id order by seq), array_agg(last_updated order by seq), array_agg(hash order by seq)
      from (select l.*, seq - row_number() over (partition by clinic_id order by seq) as island from audit_seal_leaf l) x
     group by clinic_id, island, (seq - 1) / 5000
  `);
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    revoke insert on audit_seal_block from ${KEEPER_ROLE};
    drop table audit_seal_leaf;
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: the audit trail is never dropped');
}
