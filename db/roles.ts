/**
 * Database roles, one job each:
 *  - fhir_owner: NOLOGIN; owns every table, function and policy. FORCE RLS applies to it too.
 *  - fhir_app:   NOLOGIN; the privileges a request needs (no TRUNCATE, no DDL, audit INSERT/SELECT only).
 *  - the runtime login (DB_RUNTIME_USER): LOGIN, NOINHERIT member of fhir_app. It holds no
 *    privilege of its own: only `set_config('role','fhir_app',true)` inside a request transaction
 *    opens the tables, and then RLS decides every row.
 */
export const OWNER_ROLE = 'fhir_owner';
export const APP_ROLE = 'fhir_app';
/** NOLOGIN; held by the migration account only: manages clinics, users and roles (admin CLI). */
export const ADMIN_ROLE = 'fhir_admin';
/** NOLOGIN; the built-in authorization server: OAuth tables and read-only tenancy, no clinical tables. */
export const AUTH_ROLE = 'fhir_auth';
/** NOLOGIN; the audit sealer: of audit rows only id, clinic, time, hash and transaction; appends to the seal. */
export const SEALER_ROLE = 'fhir_sealer';
/** NOLOGIN; held by the migration account: hashes rows written before the seal and applies audit retention. */
export const KEEPER_ROLE = 'fhir_audit_keeper';
