import type { Knex } from 'knex';
import type { AccessContext, Membership } from './access-context';

export interface ClinicTx {
  trx: Knex.Transaction;
  /** NULL when the user has no active membership at the clinic: nothing in it is visible then. */
  membership: Membership | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);

/**
 * The only way request code touches tenant tables: ONE transaction that first switches to the app
 * role and sets clinic, user and (for patient-compartment access) patient, in one statement, then
 * runs `work`, then commits. RLS decides every row from those settings.
 */
export async function withClinic<T>(
  db: Knex,
  who: Pick<AccessContext, 'clinicId' | 'userId'> & { compartmentPatientId?: string | null },
  work: (tx: ClinicTx) => Promise<T>,
): Promise<T> {
  const clinic = isUuid(who.clinicId) ? who.clinicId : null;
  const user = isUuid(who.userId) ? who.userId : null;
  const patient = who.compartmentPatientId && isUuid(who.compartmentPatientId) ? who.compartmentPatientId : null;
  if (who.compartmentPatientId && !patient) {
    // A patient context that is not one of our ids can match nothing; never fall back to "no compartment".
    throw new Error('invalid patient compartment id');
  }
  return db.transaction(async (trx) => {
    const { rows } = await trx.raw<{ rows: Array<{ ctx: Membership | null }> }>(
      'select app_begin(?::uuid, ?::uuid, ?::uuid) as ctx', [clinic, user, patient]);
    return work({ trx, membership: rows[0]?.ctx ?? null });
  });
}
