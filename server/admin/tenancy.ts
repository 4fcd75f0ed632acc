import type { Knex } from 'knex';
import { ADMIN_ROLE } from '../../db/roles';
import { defaultRoles, validatePermissionTree } from '../auth/permissions';
import '../fhir/resources'; // declares the served types to the permission tree
import { isUuid } from '../http/ids';
import { PRIVILEGED, type PrivilegedActor } from '../audit/privileged';
import { clinicsOf, clinicState, defaultActor, membershipState, privileged, roleState, userState } from './changes';

/** An operator's mistake (unknown clinic, bad email...): the CLI prints it and exits 2. */
export class AdminError extends Error {}

/** Runs admin work as fhir_admin: tenancy tables only (its policies open nothing clinical). */
export function asAdmin<T>(admin: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return admin.transaction(async (trx) => {
    await trx.raw(`set local role ${ADMIN_ROLE}`);
    return work(trx);
  });
}

const need = (cond: boolean, msg: string) => { if (!cond) throw new AdminError(msg); };

export async function createClinic(admin: Knex, name: string, actor: PrivilegedActor = defaultActor()) {
  need(typeof name === 'string' && name.trim().length > 0 && name.length <= 200, '--name must be 1 to 200 characters');
  return privileged(admin, actor, async (trx, changes) => {
    const [clinic] = await trx('clinic').insert({ name: name.trim() }).returning(['id', 'name', 'created_at']);
    await trx('role').insert(Object.entries(defaultRoles()).map(([role, permissions]) => ({ clinic_id: clinic.id, name: role, permissions: JSON.stringify(permissions) })));
    changes.push({ subtype: PRIVILEGED.softwareConfiguration, action: 'C', object: 'Clinic', id: clinic.id, new: await clinicState(trx, clinic.id), clinicIds: [clinic.id], summary: 'clinic created' });
    return { id: clinic.id as string, name: clinic.name as string, roles: Object.keys(defaultRoles()) };
  });
}

export async function listClinics(admin: Knex) {
  return asAdmin(admin, (trx) => trx('clinic').select('id', 'name', 'active', 'created_at').orderBy('created_at'));
}

async function roleId(trx: Knex.Transaction, clinicId: string, role: string): Promise<string> {
  need(isUuid(clinicId), '--clinic must be a clinic id (uuid)');
  const clinic = await trx('clinic').where({ id: clinicId }).first('id');
  need(!!clinic, `no clinic ${clinicId}`);
  const r = await trx('role').where({ clinic_id: clinicId, name: role }).first('id');
  need(!!r, `clinic ${clinicId} has no role "${role}" (see: role list --clinic ${clinicId})`);
  return r.id as string;
}

/**
 * Links the member to the Practitioner they are at the clinic (their tokens' fhirUser). The
 * Practitioner must be one the member sees there: practitioner_linkable (migration 027) asks RLS.
 */
async function linkPractitioner(trx: Knex.Transaction, clinicId: string, userId: string, practitionerId: string): Promise<void> {
  need(isUuid(practitionerId), '--practitioner must be a Practitioner id (uuid)');
  const { rows } = await trx.raw('select practitioner_linkable(?, ?, ?) as ok', [clinicId, userId, practitionerId]);
  need(rows[0].ok === true, `clinic ${clinicId} has no Practitioner ${practitionerId} (or the membership is disabled)`);
  const taken = await trx('membership').where({ clinic_id: clinicId, practitioner_id: practitionerId }).whereNot({ user_id: userId }).first('user_id');
  need(!taken, `Practitioner ${practitionerId} is already linked to another user of clinic ${clinicId}`);
  await trx('membership').where({ user_id: userId, clinic_id: clinicId }).update({ practitioner_id: practitionerId });
}

export async function setUserPractitioner(admin: Knex, opts: { clinicId: string; userId: string; practitionerId: string }, actor: PrivilegedActor = defaultActor()) {
  need(isUuid(opts.clinicId), '--clinic must be a clinic id (uuid)');
  need(isUuid(opts.userId), '--user must be a user id (uuid)');
  return privileged(admin, actor, async (trx, changes) => {
    const old = await membershipState(trx, opts.userId, opts.clinicId);
    need(!!old, `user ${opts.userId} is not a member of clinic ${opts.clinicId}`);
    await linkPractitioner(trx, opts.clinicId, opts.userId, opts.practitionerId);
    changes.push({
      subtype: PRIVILEGED.userSecurityAttributesChanged, action: 'U', object: 'Membership', id: opts.userId, old,
      new: await membershipState(trx, opts.userId, opts.clinicId), clinicIds: [opts.clinicId], summary: 'practitioner linked',
    });
    return { userId: opts.userId, clinicId: opts.clinicId, practitioner: `Practitioner/${opts.practitionerId}` };
  });
}

/** The Practitioner id the member is linked to at the clinic, if any. */
export async function practitionerOf(admin: Knex, clinicId: string, userId: string): Promise<string | undefined> {
  if (!isUuid(clinicId) || !isUuid(userId)) return undefined;
  return asAdmin(admin, async (trx) => {
    const row = await trx('membership').where({ clinic_id: clinicId, user_id: userId }).first('practitioner_id');
    return (row?.practitioner_id as string | null | undefined) ?? undefined;
  });
}

export async function createUser(admin: Knex, opts: { clinicId: string; email: string; role: string; displayName?: string; practitionerId?: string }, actor: PrivilegedActor = defaultActor()) {
  need(/^[^\s@]+@[^\s@]+$/.test(opts.email ?? ''), '--email must be an email address');
  return privileged(admin, actor, async (trx, changes) => {
    const rid = await roleId(trx, opts.clinicId, opts.role);
    let user = await trx('app_user').whereRaw('lower(email) = lower(?)', [opts.email]).first('id', 'email');
    // A user who already exists elsewhere gains a membership here: the old state is the user without it.
    const old = user ? await userState(trx, user.id as string) : undefined;
    if (!user) [user] = await trx('app_user').insert({ email: opts.email, display_name: opts.displayName ?? null }).returning(['id', 'email']);
    const existing = await trx('membership').where({ user_id: user.id, clinic_id: opts.clinicId }).first('role_id');
    need(!existing, `${opts.email} is already a member of clinic ${opts.clinicId} (use: user set-role)`);
    await trx('membership').insert({ user_id: user.id, clinic_id: opts.clinicId, role_id: rid });
    if (opts.practitionerId !== undefined) await linkPractitioner(trx, opts.clinicId, user.id, opts.practitionerId);
    changes.push({
      subtype: PRIVILEGED.userSecurityAttributesChanged, action: 'C', object: 'User', id: user.id, old,
      new: { ...await userState(trx, user.id), membership: await membershipState(trx, user.id, opts.clinicId) }, clinicIds: [opts.clinicId], summary: 'user added to the clinic',
    });
    return {
      id: user.id as string, email: user.email as string, clinicId: opts.clinicId, role: opts.role,
      ...(opts.practitionerId !== undefined ? { practitioner: `Practitioner/${opts.practitionerId}` } : {}),
    };
  });
}

export async function listUsers(admin: Knex, clinicId: string) {
  return asAdmin(admin, async (trx) => {
    need(isUuid(clinicId), '--clinic must be a clinic id (uuid)');
    return trx('membership as m').join('app_user as u', 'u.id', 'm.user_id').join('role as r', 'r.id', 'm.role_id')
      .where('m.clinic_id', clinicId).select('u.id', 'u.email', 'r.name as role', 'm.practitioner_id as practitionerId', 'm.disabled as membershipDisabled', 'u.disabled').orderBy('u.email');
  });
}

export async function listRoles(admin: Knex, clinicId: string) {
  return asAdmin(admin, async (trx) => {
    need(isUuid(clinicId), '--clinic must be a clinic id (uuid)');
    return trx('role').where({ clinic_id: clinicId }).select('id', 'name', 'permissions').orderBy('name');
  });
}

export async function setUserRole(admin: Knex, opts: { clinicId: string; userId: string; role: string }, actor: PrivilegedActor = defaultActor()) {
  need(isUuid(opts.userId), '--user must be a user id (uuid)');
  return privileged(admin, actor, async (trx, changes) => {
    const rid = await roleId(trx, opts.clinicId, opts.role);
    const old = await membershipState(trx, opts.userId, opts.clinicId);
    const n = await trx('membership').where({ user_id: opts.userId, clinic_id: opts.clinicId }).update({ role_id: rid });
    need(n === 1, `user ${opts.userId} is not a member of clinic ${opts.clinicId}`);
    changes.push({
      subtype: PRIVILEGED.securityRolesChanged, action: 'U', object: 'Membership', id: opts.userId, old,
      new: await membershipState(trx, opts.userId, opts.clinicId), clinicIds: [opts.clinicId], summary: 'role changed',
    });
    return { userId: opts.userId, clinicId: opts.clinicId, role: opts.role };
  });
}

export async function setRolePermissions(admin: Knex, opts: { clinicId: string; role: string; permissions: unknown }, actor: PrivilegedActor = defaultActor()) {
  const problems = validatePermissionTree(opts.permissions);
  need(problems.length === 0, `invalid permission tree: ${problems.join('; ')}`);
  return privileged(admin, actor, async (trx, changes) => {
    const rid = await roleId(trx, opts.clinicId, opts.role);
    const old = await roleState(trx, rid);
    await trx('role').where({ id: rid }).update({ permissions: JSON.stringify(opts.permissions), updated_at: trx.fn.now() });
    changes.push({
      subtype: PRIVILEGED.securityRolesChanged, action: 'U', object: 'Role', id: rid, old, new: await roleState(trx, rid),
      clinicIds: [opts.clinicId], summary: 'permission tree changed',
    });
    return { clinicId: opts.clinicId, role: opts.role, permissions: opts.permissions };
  });
}

export async function setUserDisabled(admin: Knex, opts: { userId: string; clinicId?: string; disabled: boolean }, actor: PrivilegedActor = defaultActor()) {
  need(isUuid(opts.userId), '--user must be a user id (uuid)');
  need(opts.clinicId === undefined || isUuid(opts.clinicId), '--clinic must be a clinic id (uuid)');
  return privileged(admin, actor, async (trx, changes) => {
    const summary = opts.disabled ? 'disabled' : 'enabled';
    if (opts.clinicId) {
      const old = await membershipState(trx, opts.userId, opts.clinicId);
      need(!!old, `user ${opts.userId} is not a member of clinic ${opts.clinicId}`);
      await trx('membership').where({ user_id: opts.userId, clinic_id: opts.clinicId }).update({ disabled: opts.disabled });
      changes.push({
        subtype: PRIVILEGED.userSecurityAttributesChanged, action: 'U', object: 'Membership', id: opts.userId, old,
        new: await membershipState(trx, opts.userId, opts.clinicId), clinicIds: [opts.clinicId], summary: `membership ${summary}`,
      });
    } else {
      const old = await userState(trx, opts.userId);
      need(!!old, `no user ${opts.userId}`);
      await trx('app_user').where({ id: opts.userId }).update({ disabled: opts.disabled });
      changes.push({
        subtype: PRIVILEGED.userSecurityAttributesChanged, action: 'U', object: 'User', id: opts.userId, old,
        new: await userState(trx, opts.userId), clinicIds: await clinicsOf(trx, opts.userId), summary: `user ${summary} in every clinic`,
      });
    }
    return { userId: opts.userId, ...(opts.clinicId ? { clinicId: opts.clinicId } : {}), disabled: opts.disabled };
  });
}

export async function isActiveMember(admin: Knex, clinicId: string, userId: string): Promise<boolean> {
  if (!isUuid(clinicId) || !isUuid(userId)) return false;
  return asAdmin(admin, async (trx) => {
    const row = await trx('membership as m').join('app_user as u', 'u.id', 'm.user_id')
      .where({ 'm.clinic_id': clinicId, 'm.user_id': userId, 'm.disabled': false, 'u.disabled': false }).first('m.user_id');
    return !!row;
  });
}
