import type { Knex } from 'knex';
import type { AccessContext } from '../auth/access-context';
import { grants } from '../auth/permissions';
import { forbidden, unprocessable } from '../http/errors';
import type { FhirResult } from '../fhir/interaction';
import type { FhirRequest } from '../fhir/request';
import { audited, type AuditedTx } from '../pipeline/audited';
import { operationFacts } from './facts';
import { assertPatientInClinic, patientIdOf } from './grants';
import { Parameters, parametersText } from './parameters';

const MANAGE_KEY = 'clinical.careTeam.manage';
const SHARE_DAYS = 30;
const DAY_MS = 86_400_000;

/** The `user` parameter: an active member of this clinic (a user id, or `Practitioner/x` is not accepted: users are not resources). */
async function memberOf(tx: AuditedTx, p: Parameters): Promise<string> {
  const user = p.id('user');
  const { rows } = await tx.trx.raw('select app_clinic_member(?) as ok', [user]);
  if (rows[0]?.ok !== true) throw unprocessable("Parameter 'user' must name an active member of this clinic", ['user']);
  return user;
}

function futureEnd(p: Parameters, name: string): Date | undefined {
  const end = p.instant(name);
  if (end && end.getTime() <= Date.now()) throw unprocessable(`Parameter '${name}' must be in the future`, [name]);
  return end;
}

/** A care operation on a patient by a user holding `key` (when given), run in the audited pipeline. */
function careOperation(db: Knex, access: AccessContext, req: FhirRequest, name: string, key: string | undefined,
  work: (tx: AuditedTx, patientId: string, p: Parameters) => Promise<FhirResult>): Promise<FhirResult> {
  const patientId = patientIdOf(req.params.id);
  const facts = operationFacts(access, name, patientId, 'U');
  return audited(db, access, facts, {}, async (tx) => {
    if (access.patientId) throw forbidden(`Access denied: ${name} is not for a patient token`);
    if (key && !grants(tx.membership.permissions, key)) throw forbidden(`Access denied: ${name} needs ${key}`);
    const p = Parameters.of(req);
    await assertPatientInClinic(tx.trx, patientId);
    const result = await work(tx, patientId, p);
    return result;
  });
}

/** `POST Patient/{id}/$assign` with `user` and optional `end`: the user joins the patient's care team (again: the end moves). */
export function assign(db: Knex, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  return careOperation(db, access, req, '$assign', MANAGE_KEY, async (tx, patientId, p) => {
    const user = await memberOf(tx, p);
    const end = futureEnd(p, 'end');
    const open = await tx.trx('care_assignment').where({ patient_id: patientId, user_id: user }).whereNull('ended_at').first('id');
    if (open) await tx.trx('care_assignment').where({ id: open.id }).update({ ends_at: end ?? null });
    else await tx.trx('care_assignment').insert({ clinic_id: tx.trx.raw('app_clinic_id()'), patient_id: patientId, user_id: user, ends_at: end ?? null, created_by: access.userId });
    tx.audit({ ...operationFacts(access, '$assign', patientId, 'U'), detail: { operation: '$assign', user, ...(end ? { end: end.toISOString() } : {}) } });
    return { status: 200, body: parametersText([{ name: 'user', value: user, as: 'valueId' }, { name: 'end', value: end?.toISOString(), as: 'valueInstant' }]) };
  });
}

/** `POST Patient/{id}/$unassign` with `user`: the assignment ends now (shares the user made run their course). */
export function unassign(db: Knex, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  return careOperation(db, access, req, '$unassign', MANAGE_KEY, async (tx, patientId, p) => {
    const user = p.id('user');
    const ended = await tx.trx('care_assignment').where({ patient_id: patientId, user_id: user }).whereNull('ended_at')
      .update({ ended_at: tx.trx.fn.now(), ended_by: access.userId });
    tx.audit({ ...operationFacts(access, '$unassign', patientId, 'U'), detail: { operation: '$unassign', user } });
    return { status: 200, body: parametersText([{ name: 'user', value: user, as: 'valueId' }, { name: 'ended', value: Number(ended) > 0 }]) };
  });
}

/** `POST Patient/{id}/$share` with `user` and optional `end` (at most 30 days, the default): by a clinician assigned to the patient. */
export function share(db: Knex, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  return careOperation(db, access, req, '$share', undefined, async (tx, patientId, p) => {
    const { rows } = await tx.trx.raw(`select exists (select 1 from care_assignment where patient_id = ? and user_id = ? and ended_at is null
      and starts_at <= now() and (ends_at is null or ends_at > now())) as ok`, [patientId, access.userId]);
    if (rows[0]?.ok !== true) throw forbidden('Access denied: only a clinician assigned to the patient may share the record');
    const user = await memberOf(tx, p);
    // One instant for the start, the default end and the limit (the table checks the same 30 days).
    const start = new Date();
    const limit = start.getTime() + SHARE_DAYS * DAY_MS;
    const end = futureEnd(p, 'end') ?? new Date(limit);
    if (end.getTime() > limit) throw unprocessable(`Parameter 'end' must be at most ${SHARE_DAYS} days ahead`, ['end']);
    await tx.trx('care_share').insert({
      clinic_id: tx.trx.raw('app_clinic_id()'), patient_id: patientId, from_user: access.userId, user_id: user, starts_at: start.toISOString(), ends_at: end.toISOString(),
    });
    tx.audit({ ...operationFacts(access, '$share', patientId, 'U'), detail: { operation: '$share', user, end: end.toISOString() } });
    return { status: 200, body: parametersText([{ name: 'user', value: user, as: 'valueId' }, { name: 'end', value: end.toISOString(), as: 'valueInstant' }]) };
  });
}
