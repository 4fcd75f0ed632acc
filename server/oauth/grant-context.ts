import type { Knex } from 'knex';
import { asAuthServer } from './auth-db';

/** What one authorization decided beyond scopes (table oauth_grant_context). */
export interface GrantContext {
  grantId: string;
  clinicId: string;
  userId: string;
  patientId?: string;
}

export async function saveGrantContext(db: Knex, c: GrantContext, ttlSeconds: number): Promise<void> {
  await asAuthServer(db, (trx) => trx('oauth_grant_context').insert({
    grant_id: c.grantId, clinic_id: c.clinicId, user_id: c.userId, patient_id: c.patientId ?? null,
    expires_at: trx.raw('now() + make_interval(secs => ?)', [ttlSeconds]),
  }));
}

export async function grantContext(db: Knex, grantId: string): Promise<GrantContext | undefined> {
  const row = await asAuthServer(db, (trx) => trx('oauth_grant_context').where({ grant_id: grantId })
    .where('expires_at', '>', trx.fn.now()).first('clinic_id', 'user_id', 'patient_id'));
  return row ? { grantId, clinicId: row.clinic_id, userId: row.user_id, ...(row.patient_id ? { patientId: row.patient_id } : {}) } : undefined;
}
