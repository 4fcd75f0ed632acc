import type { Knex } from 'knex';
import { inAppRoleTransaction } from '../../db/app-transaction';
import { sqlLiteral } from '../../db/literal';
import { auditInsertSql } from '../audit/writer';

/** How often each worker looks for grants that expired without their `expired` event (the issue asks: within a minute). */
export const EXPIRY_SWEEP_MS = 30_000;

interface Expired { grant_id: string; clinic_id: string; patient_id: string; user_id: string; category: string; reason: string; expires_at: Date }

/**
 * Records the `expired` event of every grant whose time ran out, with its AuditEvent (DCM 110138,
 * BTG), in one transaction: break_glass_record_expired (migration 032) inserts each event once even
 * with several workers sweeping, and answers only those this call recorded. Expiry itself needs no
 * job: RLS compares expires_at with now(). Answers how many it recorded.
 */
export async function recordExpiredGrants(db: Knex, limit = 500): Promise<number> {
  return inAppRoleTransaction(db, async (conn) => {
    const { rows } = await conn.query<Expired>('select * from break_glass_record_expired($1)', [limit]);
    for (const g of rows) {
      // The audit row's insert policy checks the clinic it is recorded for.
      await conn.query(`select set_config('app.clinic_id', ${sqlLiteral(g.clinic_id)}, true); ${auditInsertSql({
        type: 'security', interaction: '110138', action: 'E', outcome: '0', outcomeDesc: 'break-glass grant expired',
        clinicId: g.clinic_id, userId: g.user_id, purposeOfUse: 'BTG', resourceType: 'Patient', resourceId: g.patient_id,
        detail: { grant: g.grant_id, category: g.category, reason: g.reason, expiredAt: new Date(g.expires_at).toISOString() },
      })}`);
    }
    return rows.length;
  });
}
