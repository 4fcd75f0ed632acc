import type { Knex } from 'knex';
import { APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * Same rules, a fraction of the cost per statement:
 *  - app_clinic_id() and oauth_token_revoked() in plpgsql: a SQL function that cannot be inlined
 *    (SECURITY DEFINER) plans its query on every call; plpgsql keeps the plan for the session.
 *  - every policy calls app_clinic_id() through a scalar subquery, which PostgreSQL evaluates once
 *    per statement (an InitPlan) instead of once per row or per partition scanned.
 *  - app_begin leaves the membership check to the role table's policy (one app_clinic_id() call).
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

    -- The membership is verified once, by the role table's policy (app_clinic_id() is NULL without
    -- an active membership of an active user, and then no role row is visible): same answer, one call.
    create or replace function app_begin(p_clinic uuid, p_user uuid, p_patient uuid) returns jsonb language plpgsql
      as $f$
      begin
        perform set_config('role', '${APP_ROLE}', true),
                set_config('app.clinic_id', coalesce(p_clinic::text, ''), true),
                set_config('app.user_id', coalesce(p_user::text, ''), true),
                set_config('app.patient_id', coalesce(p_patient::text, ''), true);
        return (select jsonb_build_object('role', r.name, 'permissions', r.permissions)
                  from public.membership m join public.role r on r.id = m.role_id and r.clinic_id = m.clinic_id
                 where m.clinic_id = p_clinic and m.user_id = p_user and not m.disabled);
      end $f$;

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
