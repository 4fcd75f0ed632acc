import type { Knex } from 'knex';
import { ADMIN_ROLE, APP_ROLE, AUTH_ROLE, OWNER_ROLE } from '../roles';

/**
 * The built-in SMART authorization server: staff credentials and lockout, OAuth clients, EHR launch
 * contexts, the protocol library's artifacts (sessions, codes, grants = refresh-token families,
 * used assertion ids), revoked access tokens, and signing keys shared by every node.
 *
 * A third role, fhir_auth, does the authorization server's work: it reads tenancy tables and owns
 * the OAuth tables, but has no policy on clinical tables; fhir_app cannot read credentials.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    do $$ begin
      if not exists (select 1 from pg_roles where rolname = '${AUTH_ROLE}') then create role ${AUTH_ROLE} nologin; end if;
    end $$;
    grant usage on schema public to ${AUTH_ROLE};
  `);
  await knex.raw(`set local role ${OWNER_ROLE}`);
  await knex.raw(`
    create table user_credential (
      user_id uuid primary key references app_user(id),
      password_hash text check (password_hash like '$argon2id$%'),
      totp_secret text,
      -- The last accepted TOTP time step: a code is accepted once.
      totp_last_step bigint,
      mfa_enrolled_at timestamptz,
      updated_at timestamptz not null default now()
    );

    -- Failed sign-ins per subject ('user:<uuid>' or 'ip:<address>') in the current window.
    create table login_throttle (
      subject text primary key check (length(subject) <= 100),
      failures integer not null,
      window_started_at timestamptz not null,
      locked_until timestamptz
    );

    create table oauth_client (
      id uuid primary key default gen_random_uuid(),
      clinic_id uuid not null references clinic(id),
      name text not null check (length(name) between 1 and 200),
      client_type text not null check (client_type in ('public', 'confidential-asymmetric')),
      redirect_uris text[] not null default '{}',
      scope text not null check (length(scope) between 1 and 4000),
      jwks jsonb,
      jwks_uri text,
      -- The principal of system/ tokens: an app_user with the same id and a membership at clinic_id.
      service_user_id uuid references app_user(id),
      disabled boolean not null default false,
      created_at timestamptz not null default now(),
      unique (clinic_id, id),
      check (client_type = 'public' or jwks is not null or jwks_uri is not null),
      check (client_type = 'confidential-asymmetric' or (jwks is null and jwks_uri is null and service_user_id is null))
    );
    create index oauth_client_clinic on oauth_client (clinic_id);

    -- EHR launch: an opaque 'launch' value minted for a user and patient at a clinic.
    create table oauth_launch (
      id text primary key check (length(id) between 32 and 100),
      clinic_id uuid not null references clinic(id),
      user_id uuid not null references app_user(id),
      patient_id uuid,
      client_id uuid references oauth_client(id),
      expires_at timestamptz not null,
      created_at timestamptz not null default now()
    );

    -- What one authorization decided beyond scopes: the clinic, the user and the patient in context.
    create table oauth_grant_context (
      grant_id text primary key,
      clinic_id uuid not null references clinic(id),
      user_id uuid not null references app_user(id),
      patient_id uuid,
      expires_at timestamptz not null
    );

    -- oidc-provider's artifacts, one row per model instance. grant_id ties a refresh-token family.
    create table oauth_model (
      model text not null,
      id text not null,
      payload jsonb not null,
      grant_id text,
      uid text,
      consumed_at timestamptz,
      expires_at timestamptz,
      primary key (model, id)
    );
    create index oauth_model_grant on oauth_model (grant_id) where grant_id is not null;
    create index oauth_model_uid on oauth_model (uid) where uid is not null;
    create index oauth_model_expires on oauth_model (expires_at);

    -- Access tokens are self-contained JWTs: a revoked one is denied by jti until it would expire.
    create table oauth_revoked_token (
      jti text primary key,
      expires_at timestamptz not null
    );
    create function oauth_token_revoked(p_jti text) returns boolean language sql stable security definer
      set search_path = public, pg_temp
      as $f$ select exists (select 1 from oauth_revoked_token where jti = p_jti) $f$;

    create table oauth_signing_key (
      kid text primary key,
      alg text not null check (alg in ('ES256')),
      private_jwk jsonb not null,
      public_jwk jsonb not null,
      created_at timestamptz not null default now(),
      -- Published from creation; signs from signs_from; unpublished after retire_at.
      signs_from timestamptz not null default now(),
      retire_at timestamptz
    );

    -- Secrets every node must share (cookie signing, CSRF): created once, read by all.
    create table oauth_secret (
      name text primary key,
      value text not null check (length(value) >= 32),
      created_at timestamptz not null default now()
    );
  `);

  const authOnly = ['user_credential', 'login_throttle', 'oauth_grant_context', 'oauth_model', 'oauth_signing_key', 'oauth_secret'];
  for (const t of [...authOnly, 'oauth_client', 'oauth_launch', 'oauth_revoked_token']) {
    await knex.raw(`alter table ${t} enable row level security; alter table ${t} force row level security;`);
  }
  await knex.raw(`
    ${authOnly.map((t) => `create policy auth_server on ${t} to ${AUTH_ROLE} using (true) with check (true);`).join('\n    ')}
    create policy auth_server on oauth_client for select to ${AUTH_ROLE} using (true);
    create policy auth_server on oauth_launch to ${AUTH_ROLE} using (true) with check (true);
    create policy auth_server on oauth_revoked_token to ${AUTH_ROLE} using (true) with check (true);
    -- Whether a jti is revoked is no secret; the check function runs as the owner.
    create policy revocation_check on oauth_revoked_token for select using (true);

    -- Tenant views for the app role: a clinic sees its own clients; an EHR user mints launches for itself.
    create policy isolate_clinic on oauth_client for select to ${APP_ROLE} using (clinic_id = app_clinic_id());
    create policy launch_for_self on oauth_launch to ${APP_ROLE}
      using (clinic_id = app_clinic_id() and user_id = app_user_id())
      with check (clinic_id = app_clinic_id() and user_id = app_user_id());

    -- The admin CLI: clients, credentials, unlock, launches, key rotation.
    create policy admin_manage on oauth_client to ${ADMIN_ROLE} using (true) with check (true);
    create policy admin_manage on user_credential to ${ADMIN_ROLE} using (true) with check (true);
    create policy admin_manage on login_throttle to ${ADMIN_ROLE} using (true) with check (true);
    create policy admin_manage on oauth_launch to ${ADMIN_ROLE} using (true) with check (true);
    create policy admin_manage on oauth_signing_key to ${ADMIN_ROLE} using (true) with check (true);

    -- The authorization server reads who may sign in where; it has no policy on clinical tables.
    create policy auth_server_read on clinic for select to ${AUTH_ROLE} using (true);
    create policy auth_server_read on app_user for select to ${AUTH_ROLE} using (true);
    create policy auth_server_read on membership for select to ${AUTH_ROLE} using (true);
    create policy auth_server_read on role for select to ${AUTH_ROLE} using (true);

    grant select on clinic, app_user, membership, role to ${AUTH_ROLE};
    grant select, insert, update, delete on user_credential, login_throttle, oauth_grant_context, oauth_model, oauth_revoked_token to ${AUTH_ROLE};
    grant select, insert, update on oauth_signing_key, oauth_secret to ${AUTH_ROLE};
    grant select on oauth_client to ${AUTH_ROLE};
    grant select, delete on oauth_launch to ${AUTH_ROLE};
    grant select on oauth_client to ${APP_ROLE};
    grant select, insert on oauth_launch to ${APP_ROLE};
    grant select, insert, update on oauth_client, user_credential, oauth_launch, oauth_signing_key to ${ADMIN_ROLE};
    grant select, delete on login_throttle to ${ADMIN_ROLE};
    revoke all on function oauth_token_revoked(text) from public;
  `);
  await knex.raw('reset role');
}

export async function down(): Promise<void> {
  throw new Error('irreversible: credentials and OAuth state are never dropped by a migration');
}
