import type { Knex } from 'knex';
import { APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * Finished Bulk Data exports expire (BULK_EXPORT_TTL_HOURS after they finished): their files leave
 * the object store and their rows go. The sweep runs across clinics, as bulk_export_fail_interrupted
 * does: two functions turn migration 034's sweep policy on for their own duration only. The first
 * lists the expired jobs (what the server must remove from the store); the second forgets one, and
 * only if it is still expired by the same measure, so neither can reach a job that has time left.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create index bulk_export_finished on bulk_export (finished_at) where finished_at is not null;

    create function bulk_export_expired(p_ttl interval, p_limit integer)
      returns table (clinic_id uuid, id uuid, owner_id uuid, status text, output jsonb, finished_at timestamptz)
      language plpgsql security definer set search_path = public, pg_temp
      as $f$
      begin
        perform set_config('app.bulk_export_sweep', 'on', true);
        return query select b.clinic_id, b.id, b.owner_id, b.status, b.output, b.finished_at from bulk_export b
          where b.status in ('completed', 'failed') and b.finished_at < now() - p_ttl
          order by b.finished_at limit p_limit;
        perform set_config('app.bulk_export_sweep', '', true);
      end $f$;

    create function bulk_export_forget(p_clinic uuid, p_id uuid, p_ttl interval) returns boolean
      language plpgsql security definer set search_path = public, pg_temp
      as $f$
      declare n integer;
      begin
        perform set_config('app.bulk_export_sweep', 'on', true);
        delete from bulk_export b where b.clinic_id = p_clinic and b.id = p_id
          and b.status in ('completed', 'failed') and b.finished_at < now() - p_ttl;
        get diagnostics n = row_count;
        perform set_config('app.bulk_export_sweep', '', true);
        return n = 1;
      end $f$;

    revoke all on function bulk_export_expired(interval, integer) from public;
    revoke all on function bulk_export_forget(uuid, uuid, interval) from public;
    grant execute on function bulk_export_expired(interval, integer) to ${APP_ROLE};
    grant execute on function bulk_export_forget(uuid, uuid, interval) to ${APP_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: expired exports are gone');
}
