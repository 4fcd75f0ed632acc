import type { Knex } from 'knex';
import { OWNER_ROLE } from '../../db/roles';
import { auditInsertSql } from '../audit/writer';
import { ACCESS_POLICIES, policyChangeDetail } from '../care/access-policy';
import { isUuid } from '../http/ids';
import { AdminError, asAdmin } from './tenancy';

/**
 * `clinic set-policy --clinic ID --policy clinic-wide|care-team`: the clinic's access policy, changed
 * by the operator and recorded as a privileged change (DCM 110131, old and new) in the clinic's trail.
 */
export async function setClinicPolicy(admin: Knex, opts: { clinicId: string; policy: string; operator?: string }) {
  if (!isUuid(opts.clinicId)) throw new AdminError('--clinic must be a clinic id (uuid)');
  if (!(ACCESS_POLICIES as readonly string[]).includes(opts.policy)) throw new AdminError(`--policy must be one of ${ACCESS_POLICIES.join(', ')}`);
  return asAdmin(admin, async (trx) => {
    const before = await trx('clinic').where({ id: opts.clinicId }).first('access_policy');
    if (!before) throw new AdminError(`no clinic ${opts.clinicId}`);
    await trx('clinic').where({ id: opts.clinicId }).update({ access_policy: opts.policy });
    // The audit row is written as the owner, for the clinic it concerns (its insert policy checks app.clinic_id).
    await trx.raw(`set local role ${OWNER_ROLE}`);
    await trx.raw("select set_config('app.clinic_id', ?, true)", [opts.clinicId]);
    const sql = auditInsertSql({
      type: 'security', interaction: '110131', action: 'U', outcome: '0', clinicId: opts.clinicId,
      detail: { ...policyChangeDetail(String(before.access_policy), opts.policy), operator: opts.operator ?? 'admin CLI' },
    });
    // A literal statement: `?` in it must not be read as a binding.
    await trx.raw(sql.replace(/\?/g, '\\?'));
    return { clinic: opts.clinicId, policy: opts.policy, previous: before.access_policy as string };
  });
}
