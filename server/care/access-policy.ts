import type { Knex } from 'knex';
import type { AccessContext } from '../auth/access-context';
import { grants } from '../auth/permissions';
import { jcs } from '../audit/canonical';
import { forbidden, unprocessable } from '../http/errors';
import type { FhirResult } from '../fhir/interaction';
import type { FhirRequest } from '../fhir/request';
import { audited } from '../pipeline/audited';
import { operationFacts, securityFacts } from './facts';
import { Parameters, parametersText } from './parameters';

export const ACCESS_POLICIES = ['clinic-wide', 'care-team'] as const;
export type AccessPolicy = (typeof ACCESS_POLICIES)[number];
const SETTINGS_KEY = 'settings.clinic.manage';

/** The privileged-change AuditEvent of a policy change (DCM 110131), old and new as canonical JSON. */
export function policyChangeDetail(old: string, now: string): Record<string, string> {
  return { old: jcs({ accessPolicy: old }), new: jcs({ accessPolicy: now }) };
}

/** `POST [base]/$set-access-policy` with `policy` (clinic-wide | care-team): the clinic admin's setting. */
export function setAccessPolicy(db: Knex, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  const facts = { ...operationFacts(access, '$set-access-policy', undefined, 'U'), type: 'security' as const, interaction: '110131' };
  return audited(db, access, facts, {}, async (tx) => {
    if (access.patientId || !grants(tx.membership.permissions, SETTINGS_KEY)) throw forbidden(`Access denied: the access policy needs ${SETTINGS_KEY}`);
    const policy = Parameters.of(req).text('policy', { required: true });
    if (!(ACCESS_POLICIES as readonly string[]).includes(policy)) throw unprocessable(`Parameter 'policy' must be one of ${ACCESS_POLICIES.join(', ')}`, ['policy']);
    const before = await tx.trx('clinic').where({ id: access.clinicId }).first('access_policy');
    await tx.trx('clinic').where({ id: access.clinicId }).update({ access_policy: policy });
    tx.audit(securityFacts(access, '110131', 'U', { detail: policyChangeDetail(String(before?.access_policy), policy) }));
    return { status: 200, body: parametersText([{ name: 'policy', value: policy, as: 'valueCode' }]) };
  });
}
