import net from 'node:net';
import type { Knex } from 'knex';
import { PRIVILEGED, type PrivilegedActor } from '../audit/privileged';
import { writeAudit } from '../audit/writer';
import { addressSubject, clearSubject, userSubject } from '../oauth/throttle';
import { isUuid } from '../http/ids';
import { clinicsOf, defaultActor, privileged } from './changes';
import { AdminError, asAdmin } from './tenancy';

/**
 * Lifting sign-in locks (kept in login_throttle, shared by every node). An account's unlock is a
 * change of the user's security attributes; an address's is an authorization-server event `unlock`.
 */

// Written as the server writes its own events (the admin role may not insert audit rows), after the unlock commits.
async function auditUnlock(admin: Knex, what: string): Promise<void> {
  await admin.transaction(async (trx) => {
    await trx.raw('select app_begin(null::uuid, null::uuid, null::uuid, null)');
    await writeAudit(trx, { type: 'auth', interaction: 'unlock', action: 'E', outcome: '0', outcomeDesc: `${what} unlocked by an operator`, clinicId: null });
  });
}

/** `admin address unlock --address IP`: the address may try to sign in again at once. */
export async function unlockAddress(admin: Knex, address: string) {
  if (net.isIP(address) === 0) throw new AdminError('--address must be an IPv4 or IPv6 address');
  const { existed, wasLocked } = await asAdmin(admin, (trx) => clearSubject(trx, addressSubject(address)));
  if (existed) await auditUnlock(admin, `source address ${address}`);
  return { address, unlocked: wasLocked };
}

/** `admin user unlock --user ID`: lifts the account's lock, audited in each clinic of the account. */
export async function unlockUser(admin: Knex, userId: string, actor: PrivilegedActor = defaultActor()) {
  if (!isUuid(userId)) throw new AdminError('--user must be a user id (uuid)');
  const existed = await privileged(admin, actor, async (trx, changes) => {
    const cleared = await clearSubject(trx, userSubject(userId));
    if (cleared.existed) {
      changes.push({
        subtype: PRIVILEGED.userSecurityAttributesChanged, action: 'U', object: 'User', id: userId,
        old: { userId, signInThrottle: { locked: cleared.wasLocked } }, new: { userId, signInThrottle: null },
        clinicIds: await clinicsOf(trx, userId), summary: 'account unlocked by an operator',
      });
    }
    return cleared.existed;
  });
  return { userId, unlocked: existed };
}
