import type { Knex } from 'knex';
import type { PrivilegedActor } from '../audit/privileged';
import { ACCESS_POLICIES } from '../care/access-policy';
import { isUuid } from '../http/ids';
import { defaultActor, privileged } from './changes';
import { AdminError } from './tenancy';

/**
 * `clinic set-policy --clinic ID --policy clinic-wide|care-team`: the clinic's access policy, changed
 * by the operator and recorded as a privileged change (DCM 110131, old and new) in the clinic's trail.
 */
export async function setClinicPolicy(admin: Knex, opts: { clinicId: string; policy: string }, actor: PrivilegedActor = defaultActor()) {
  if (!isUuid(opts.clinicId)) throw new AdminError('--clinic must be a clinic id (uuid)');
  if (!(ACCESS_POLICIES as readonly string[]).includes(opts.policy)) throw new AdminError(`--policy must be one of ${ACCESS_POLICIES.join(', ')}`);
  return privileged(admin, actor, async (trx, changes) => {
    const before = await trx('clinic').where({ id: opts.clinicId }).first('access_policy');
    if (!before) throw new AdminError(`no clinic ${opts.clinicId}`);
    await trx('clinic').where({ id: opts.clinicId }).update({ access_policy: opts.policy });
    changes.push({
      subtype: '110131', action: 'U', object: 'ClinicSettings', id: opts.clinicId, clinicIds: [opts.clinicId],
      old: { accessPolicy: before.access_policy }, new: { accessPolicy: opts.policy },
    });
    return { clinic: opts.clinicId, policy: opts.policy, previous: before.access_policy as string };
  });
}
