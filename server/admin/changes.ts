import type { Knex } from 'knex';
import { ADMIN_ROLE } from '../../db/roles';
import { cliOperator, type PrivilegedActor, type PrivilegedChange, writePrivileged } from '../audit/privileged';

/**
 * The admin CLI's privileged changes: the work runs as fhir_admin and the changes it reports are
 * audited before the same COMMIT. The states below are what an event's `old` and `new` record.
 */

/** The actor of admin functions called without one (tests, scripts): the OS user at this host. */
export const defaultActor = (): PrivilegedActor => ({ operator: cliOperator() });

/** Runs `work` as fhir_admin; the changes it pushes are audited in its transaction. */
export function privileged<T>(admin: Knex, actor: PrivilegedActor, work: (trx: Knex.Transaction, changes: PrivilegedChange[]) => Promise<T>): Promise<T> {
  return admin.transaction(async (trx) => {
    await trx.raw(`set local role ${ADMIN_ROLE}`);
    const changes: PrivilegedChange[] = [];
    const out = await work(trx, changes);
    await writePrivileged(trx, actor, changes);
    return out;
  });
}

/** Every clinic the user is a member of (disabled memberships too): where user-level changes are recorded. */
export async function clinicsOf(trx: Knex.Transaction, userId: string): Promise<string[]> {
  const rows = await trx('membership').where({ user_id: userId }).orderBy('clinic_id').select('clinic_id') as Array<{ clinic_id: string }>;
  return rows.map((r) => r.clinic_id);
}

export async function clinicState(trx: Knex.Transaction, clinicId: string) {
  const clinic = await trx('clinic').where({ id: clinicId }).first('id', 'name', 'active');
  if (!clinic) return undefined;
  const roles = await trx('role').where({ clinic_id: clinicId }).orderBy('name').pluck('name') as string[];
  return { ...clinic, roles };
}

export async function userState(trx: Knex.Transaction, userId: string) {
  return await trx('app_user').where({ id: userId }).first('id', 'email', 'display_name as displayName', 'disabled') as Record<string, unknown> | undefined;
}

/** A user's sign-in credentials: the secrets themselves are masked to "changed" when audited. */
export async function credentialState(trx: Knex.Transaction, userId: string) {
  const row = await trx('user_credential').where({ user_id: userId })
    .first('password_hash as password', 'totp_secret as totpSecret', 'mfa_enrolled_at as mfaEnrolledAt', 'updated_at as updatedAt');
  return { userId, ...(row ?? { password: null, totpSecret: null, mfaEnrolledAt: null }) };
}

export async function membershipState(trx: Knex.Transaction, userId: string, clinicId: string) {
  return await trx('membership as m').join('role as r', 'r.id', 'm.role_id').where({ 'm.user_id': userId, 'm.clinic_id': clinicId })
    .first('m.user_id as userId', 'm.clinic_id as clinicId', 'r.name as role', 'm.practitioner_id as practitionerId', 'm.disabled') as Record<string, unknown> | undefined;
}

export async function roleState(trx: Knex.Transaction, roleId: string) {
  return await trx('role').where({ id: roleId }).first('id', 'clinic_id as clinicId', 'name', 'permissions') as Record<string, unknown> | undefined;
}

export async function clientState(trx: Knex.Transaction, clientId: string) {
  return await trx('oauth_client as c').leftJoin('membership as m', (j) => j.on('m.user_id', 'c.service_user_id').andOn('m.clinic_id', 'c.clinic_id'))
    .leftJoin('role as r', 'r.id', 'm.role_id').where('c.id', clientId)
    .first('c.id', 'c.clinic_id as clinicId', 'c.name', 'c.client_type as type', 'c.redirect_uris as redirectUris', 'c.scope', 'c.jwks',
      'c.jwks_uri as jwksUri', 'c.disabled', 'r.name as role') as Record<string, unknown> | undefined;
}
