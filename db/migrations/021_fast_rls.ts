import type { Knex } from 'knex';
import { OWNER_ROLE } from '../roles';

/**
 * Same rules, a fraction of the cost per statement:
 *  - app_clinic_id() and oauth_token_revoked() in plpgsql: a SQL function that cannot be inlined
 *    (SECURITY DEFINER) plans its query on every call; plpgsql keeps the plan for the session.
 *  - every policy calls app_clinic_id() through a scalar subquery, which PostgreSQL evaluates once
 *    per statement (an InitPlan) instead of once per row or per partition scanned.
 *  - audit_event loses its index on (id) alone: the primary key (id, last_updated) serves a read by
 *    id, and every request inserts a row (one index fewer to maintain).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create or replace function app_clinic_id() returns uuid language plpgsql stable security definer
      set search_path = public, pg_temp
      as $f$
      begin
        return (select m.clinic_id from membership m join app_user u on u.id = m.user_id
                 where m.clinic_id = app_requested_clinic_id() and m.user_id = app_user_id()
                   and not m.disabled and not u.disabled);
      end $f$;

    drop index if exists audit_event_id;

    create or replace function oauth_token_revoked(p_jti text) returns boolean language plpgsql stable security definer
      set search_path = public, pg_temp
      as $f$ begin return exists (select 1 from oauth_revoked_token where jti = p_jti); end $f$;

    do $$
    declare p record; q text; c text;
    begin
      for p in select * from pg_policies
                where schemaname = 'public'
                  and (qual like '%app_clinic_id()%' or with_check like '%app_clinic_id()%')
                  and coalesce(qual, '') not like '%SELECT app_clinic_id()%' and coalesce(with_check, '') not like '%SELECT app_clinic_id()%'
      loop
        q := replace(p.qual, 'app_clinic_id()', '(select app_clinic_id())');
        c := replace(p.with_check, 'app_clinic_id()', '(select app_clinic_id())');
        if q is not null then execute format('alter policy %I on %I.%I using (%s)', p.policyname, p.schemaname, p.tablename, q); end if;
        if c is not null then execute format('alter policy %I on %I.%I with check (%s)', p.policyname, p.schemaname, p.tablename, c); end if;
      end loop;
    end $$;
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: a later migration changes these functions and policies again');
}
