import type { Knex } from 'knex';
import { ADMIN_ROLE, APP_ROLE, OWNER_ROLE } from '../roles';

/**
 * Tenancy: clinics, users, memberships and per-clinic roles, with Row Level Security.
 * The isolate policy of every tenant table compares clinic_id with app_clinic_id(), which is the
 * requested clinic ONLY when the acting user holds an active membership there.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    do $$ begin
      if not exists (select 1 from pg_roles where rolname = '${OWNER_ROLE}') then create role ${OWNER_ROLE} nologin; end if;
      if not exists (select 1 from pg_roles where rolname = '${APP_ROLE}') then create role ${APP_ROLE} nologin; end if;
      if not exists (select 1 from pg_roles where rolname = '${ADMIN_ROLE}') then create role ${ADMIN_ROLE} nologin; end if;
    end $$;
    grant ${OWNER_ROLE} to current_user;
    grant ${ADMIN_ROLE} to current_user;
    grant usage on schema public to ${ADMIN_ROLE};
    grant usage, create on schema public to ${OWNER_ROLE};
    grant usage on schema public to ${APP_ROLE};
    create extension if not exists pg_trgm;
    create extension if not exists btree_gin;
  `);
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create table clinic (
      id uuid primary key default gen_random_uuid(),
      name text not null check (length(name) between 1 and 200),
      active boolean not null default true,
      created_at timestamptz not null default now()
    );
    create table app_user (
      id uuid primary key default gen_random_uuid(),
      email text not null check (length(email) between 3 and 320),
      display_name text,
      disabled boolean not null default false,
      created_at timestamptz not null default now()
    );
    create unique index app_user_email on app_user (lower(email));
    create table role (
      id uuid primary key default gen_random_uuid(),
      clinic_id uuid not null references clinic(id),
      name text not null check (name ~ '^[a-z][a-z0-9-]{1,62}$'),
      permissions jsonb not null default '{}'::jsonb check (jsonb_typeof(permissions) = 'object'),
      updated_at timestamptz not null default now(),
      unique (clinic_id, name),
      unique (clinic_id, id)
    );
    create table membership (
      user_id uuid not null references app_user(id),
      clinic_id uuid not null references clinic(id),
      role_id uuid not null,
      disabled boolean not null default false,
      created_at timestamptz not null default now(),
      primary key (user_id, clinic_id),
      foreign key (clinic_id, role_id) references role (clinic_id, id)
    );
    create index membership_clinic on membership (clinic_id);

    create function app_user_id() returns uuid language sql stable
      as $f$ select nullif(current_setting('app.user_id', true), '')::uuid $f$;
    create function app_patient_id() returns uuid language sql stable
      as $f$ select nullif(current_setting('app.patient_id', true), '')::uuid $f$;
    create function app_requested_clinic_id() returns uuid language sql stable
      as $f$ select nullif(current_setting('app.clinic_id', true), '')::uuid $f$;

    -- The clinic in context, or NULL when the acting user has no active membership there.
    -- SECURITY DEFINER so it can read membership; FORCE RLS still applies to the owner, and the
    -- membership and app_user policies below only ever show the acting user's own rows.
    create function app_clinic_id() returns uuid language sql stable security definer
      set search_path = public, pg_temp
      as $f$
        select m.clinic_id from membership m join app_user u on u.id = m.user_id
         where m.clinic_id = app_requested_clinic_id() and m.user_id = app_user_id()
           and not m.disabled and not u.disabled
      $f$;

    alter table clinic enable row level security;
    alter table clinic force row level security;
    create policy isolate_clinic on clinic using (id = app_clinic_id());

    alter table app_user enable row level security;
    alter table app_user force row level security;
    create policy only_self on app_user using (id = app_user_id());

    alter table membership enable row level security;
    alter table membership force row level security;
    create policy only_own_membership on membership
      using (user_id = app_user_id() and clinic_id = app_requested_clinic_id());

    alter table role enable row level security;
    alter table role force row level security;
    create policy isolate_clinic on role using (clinic_id = app_clinic_id());

    -- Starts a request: one round trip sets role, clinic, user and patient for this transaction and
    -- returns the acting user's role at the clinic (NULL when there is no active membership).
    -- (No SET clause on this function: it would confine the set_config calls to the function.)
    create function app_begin(p_clinic uuid, p_user uuid, p_patient uuid) returns jsonb language plpgsql
      as $f$
      begin
        perform set_config('role', '${APP_ROLE}', true),
                set_config('app.clinic_id', coalesce(p_clinic::text, ''), true),
                set_config('app.user_id', coalesce(p_user::text, ''), true),
                set_config('app.patient_id', coalesce(p_patient::text, ''), true);
        return (select jsonb_build_object('role', r.name, 'permissions', r.permissions)
                  from public.membership m join public.role r on r.id = m.role_id and r.clinic_id = m.clinic_id
                 where m.clinic_id = public.app_clinic_id() and m.user_id = p_user);
      end $f$;

    -- The admin role manages tenancy (clinics, users, roles) across clinics; it has no policy on
    -- clinical tables, so even the admin CLI cannot read patient data.
    create policy admin_manage on clinic to ${ADMIN_ROLE} using (true) with check (true);
    create policy admin_manage on app_user to ${ADMIN_ROLE} using (true) with check (true);
    create policy admin_manage on membership to ${ADMIN_ROLE} using (true) with check (true);
    create policy admin_manage on role to ${ADMIN_ROLE} using (true) with check (true);
    grant select, insert, update on clinic, app_user, membership, role to ${ADMIN_ROLE};

    revoke all on function app_begin(uuid, uuid, uuid) from public;
    grant select on clinic, app_user, membership, role to ${APP_ROLE};
    grant execute on function app_begin(uuid, uuid, uuid) to ${APP_ROLE};
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: tenancy tables are never dropped by a migration');
}
