import net from 'node:net';
import type { Knex } from 'knex';
import { writeAudit } from '../audit/writer';
import { activeClinicIds } from '../oauth/sign-in';
import { addressSubject, clearSubject, userSubject } from '../oauth/throttle';
import { isUuid } from '../http/ids';
import { AdminError, asAdmin } from './tenancy';

/**
 * Lifting sign-in locks (kept in login_throttle, shared by every node). An unlock is a privileged
 * change, so it is audited as an authorization-server event with subtype `unlock`.
 */

// Written in the clinic's context as the server writes audit rows (the admin role may not insert them), after the unlock commits.
async function auditUnlock(admin: Knex, clinicIds: Array<string | null>, what: string, userId?: string): Promise<void> {
  for (const clinicId of clinicIds.length > 0 ? clinicIds : [null]) {
    await admin.transaction(async (trx) => {
      await trx.raw('select app_begin(?::uuid, ?::uuid, null::uuid, null)', [clinicId, userId ?? null]);
      await writeAudit(trx, { type: 'auth', interaction: 'unlock', action: 'E', outcome: '0', outcomeDesc: `${what} unlocked by an operator`, clinicId, userId });
    });
  }
}

/** `admin address unlock --address IP`: the address may try to sign in again at once. */
export async function unlockAddress(admin: Knex, address: string) {
  if (net.isIP(address) === 0) throw new AdminError('--address must be an IPv4 or IPv6 address');
  const { existed, wasLocked } = await asAdmin(admin, (trx) => clearSubject(trx, addressSubject(address)));
  if (existed) await auditUnlock(admin, [], `source address ${address}`);
  return { address, unlocked: wasLocked };
}

/** `admin user unlock --user ID`: lifts the account's lock, audited in each clinic of the account. */
export async function unlockUser(admin: Knex, userId: string) {
  if (!isUuid(userId)) throw new AdminError('--user must be a user id (uuid)');
  const { existed, clinicIds } = await asAdmin(admin, async (trx) => ({
    ...(await clearSubject(trx, userSubject(userId))), clinicIds: await activeClinicIds(trx, userId),
  }));
  if (existed) await auditUnlock(admin, clinicIds, 'account', userId);
  return { userId, unlocked: existed };
}
