import type { Knex } from 'knex';
import type { AccessContext } from '../auth/access-context';
import { grants } from '../auth/permissions';
import { jcs } from '../audit/canonical';
import { forbidden, OperationOutcomeError, unprocessable } from '../http/errors';
import { currentRequest } from '../http/request-context';
import type { FhirResult } from '../fhir/interaction';
import type { FhirRequest } from '../fhir/request';
import { audited, type AuditedTx } from '../pipeline/audited';
import { withClinic } from '../tenancy/with-clinic';
import { isPatientToken, operationFacts, securityFacts } from './facts';
import { assertPatientInClinic, CATEGORIES, DECISIONS, grantOf, type GrantRow, grantStatus, patientIdOf, recordEvent } from './grants';
import { Parameters, parametersText } from './parameters';

const REQUEST_KEY = 'clinical.breakGlass.request';
export const REVIEW_KEY = 'compliance.breakGlass.review';
const MIN_REASON = 20;

const lifeDetail = (g: Pick<GrantRow, 'id' | 'category' | 'reason'>) => ({ grant: g.id, category: g.category, reason: g.reason });
const answer = (status: number, g: GrantRow): FhirResult => ({
  status,
  body: parametersText([
    { name: 'grant', value: g.id, as: 'valueId' },
    { name: 'expiresAt', value: g.expires_at.toISOString(), as: 'valueInstant' },
    { name: 'status', value: grantStatus(g), as: 'valueCode' },
  ]),
});

/** The category, reason and duration of a request, or a 422 naming the parameter at fault. */
function requestOf(req: FhirRequest): { category: string; reason: string; hours: number } {
  const p = Parameters.of(req);
  const category = p.text('category', { required: true });
  if (!(CATEGORIES as readonly string[]).includes(category)) throw unprocessable(`Parameter 'category' must be one of ${CATEGORIES.join(', ')}`, ['category']);
  const reason = p.text('reason', { required: true });
  if (reason.length < MIN_REASON) throw unprocessable(`Parameter 'reason' must hold at least ${MIN_REASON} characters`, ['reason']);
  if (reason.length > 2000) throw unprocessable("Parameter 'reason' must hold at most 2000 characters", ['reason']);
  const hours = p.integer('durationHours') ?? 24;
  if (hours < 1 || hours > 24) throw unprocessable("Parameter 'durationHours' must be from 1 to 24", ['durationHours']);
  return { category, reason, hours };
}

/** A refused request is kept in the grant's table too, after the rollback, in a transaction of its own. */
async function recordRefusal(db: Knex, access: AccessContext, patientId: string, err: unknown): Promise<void> {
  const why = err instanceof OperationOutcomeError ? err.message.slice(0, 300) : 'internal error';
  await withClinic(db, access, async ({ trx, membership }) => {
    if (membership) await recordEvent(trx, { patientId, actor: access.userId, kind: 'refused', detail: { refusal: why } });
  }).catch((e: unknown) => currentRequest()?.log.error({ err: e }, 'recording a refused break-glass request failed'));
}

/**
 * `POST Patient/{id}/$break-glass`: an emergency access to one patient for at most 24 hours.
 * 201 with the new grant, 200 with the one already active; 403 without the key, 404 for a patient
 * the clinic does not hold, 422 naming the bad parameter. Refusals are audited and kept as events.
 */
export async function requestBreakGlass(db: Knex, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  const patientId = patientIdOf(req.params.id);
  const facts = { ...operationFacts(access, '$break-glass', patientId, 'E'), purposeOfUse: 'BTG' };
  try {
    return await audited(db, access, facts, {}, async (tx) => {
      if (access.patientId || !grants(tx.membership.permissions, REQUEST_KEY)) throw forbidden(`Access denied: break-glass needs ${REQUEST_KEY}`);
      const { category, reason, hours } = requestOf(req);
      await assertPatientInClinic(tx.trx, patientId);
      const active = await tx.trx<GrantRow>('break_glass_grant')
        .where({ patient_id: patientId, user_id: access.userId }).whereNull('revoked_at').where('expires_at', '>', tx.trx.fn.now())
        .orderBy('expires_at', 'desc').first();
      if (active) {
        tx.audit({ ...facts, detail: { operation: '$break-glass', grant: active.id } });
        return answer(200, active);
      }
      const [g] = await tx.trx<GrantRow>('break_glass_grant').insert({
        clinic_id: tx.trx.raw('app_clinic_id()'), patient_id: patientId, user_id: access.userId, category, reason,
        expires_at: tx.trx.raw(`now() + make_interval(hours => ${hours})`),
      } as unknown as GrantRow).returning('*');
      await recordEvent(tx.trx, { grantId: g.id, patientId, actor: access.userId, kind: 'requested', detail: { category, reason, durationHours: hours } });
      await recordEvent(tx.trx, { grantId: g.id, patientId, actor: access.userId, kind: 'granted', detail: { expiresAt: g.expires_at.toISOString() } });
      tx.audit(securityFacts(access, '110127', 'E', { resourceType: 'Patient', resourceId: patientId, purposeOfUse: 'BTG', detail: lifeDetail(g) }));
      return answer(201, g);
    });
  } catch (err) {
    await recordRefusal(db, access, patientId, err);
    throw err;
  }
}

/**
 * `POST Patient/{id}/$break-glass-revoke` with `grant`: by the patient (a patient/ token of that
 * patient), the grantee or compliance. RLS stops honouring the grant at once.
 */
export async function revokeBreakGlass(db: Knex, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  const patientId = patientIdOf(req.params.id);
  const facts = { ...operationFacts(access, '$break-glass-revoke', patientId, 'U'), purposeOfUse: 'BTG' };
  const byPatient = isPatientToken(access, patientId);
  return audited(db, access, facts, { compartmentPatientId: byPatient ? patientId : undefined }, async (tx) => {
    if (access.patientId && !byPatient) throw forbidden('Access denied: a patient token may revoke only its own patient\'s grants');
    const grantId = Parameters.of(req).id('grant');
    const g = await grantOf(tx.trx, patientId, grantId);
    if (!byPatient && g.user_id !== access.userId && !grants(tx.membership.permissions, REVIEW_KEY)) {
      throw forbidden('Access denied: a grant is revoked by its patient, its grantee or compliance');
    }
    if (grantStatus(g) !== 'active') return answer(200, g);
    const actor = byPatient ? `Patient/${patientId}` : access.userId;
    const [revoked] = await tx.trx<GrantRow>('break_glass_grant').where({ id: g.id }).update({ revoked_at: tx.trx.fn.now(), revoked_by: actor } as unknown as GrantRow).returning('*');
    await recordEvent(tx.trx, { grantId: g.id, patientId, actor, kind: 'revoked' });
    tx.audit(securityFacts(access, '110138', 'E', { resourceType: 'Patient', resourceId: patientId, purposeOfUse: 'BTG', detail: { ...lifeDetail(g), revokedBy: actor } }));
    return answer(200, revoked);
  });
}

/** Who may list a patient's grants: the patient, compliance, and the clinic's clinicians. */
function mayList(tx: AuditedTx, patientId: string): boolean {
  if (tx.access.patientId) return isPatientToken(tx.access, patientId);
  return grants(tx.membership.permissions, REVIEW_KEY) || grants(tx.membership.permissions, REQUEST_KEY);
}

/** `GET Patient/{id}/$break-glass`: the patient's grants, active and past, newest first. */
export async function listBreakGlass(db: Knex, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  const patientId = patientIdOf(req.params.id);
  const facts = operationFacts(access, '$break-glass', patientId, 'R');
  const byPatient = isPatientToken(access, patientId);
  return audited(db, access, facts, { compartmentPatientId: byPatient ? patientId : undefined }, async (tx) => {
    if (!mayList(tx, patientId)) throw forbidden('Access denied: grants are listed to the patient, compliance and clinicians');
    await assertPatientInClinic(tx.trx, patientId);
    const rows = await tx.trx<GrantRow>('break_glass_grant').where({ patient_id: patientId }).orderBy('created_at', 'desc').limit(1000);
    tx.audit({ ...facts, patientIds: [patientId] });
    return {
      status: 200,
      body: parametersText(rows.map((g) => ({
        name: 'grant',
        value: [
          { name: 'id', value: g.id, as: 'valueId' },
          { name: 'user', value: g.user_id, as: 'valueId' },
          { name: 'category', value: g.category, as: 'valueCode' },
          { name: 'reason', value: g.reason },
          { name: 'createdAt', value: g.created_at.toISOString(), as: 'valueInstant' },
          { name: 'expiresAt', value: g.expires_at.toISOString(), as: 'valueInstant' },
          { name: 'status', value: grantStatus(g), as: 'valueCode' },
          { name: 'revokedAt', value: g.revoked_at?.toISOString(), as: 'valueInstant' },
          { name: 'revokedBy', value: g.revoked_by },
          { name: 'review', value: g.review_status, as: 'valueCode' },
          { name: 'reviewNote', value: g.review_note },
        ],
      }))),
    };
  });
}

/** What a review decides: the grant, the decision and an optional note (read inside the audited transaction). */
export interface ReviewInput { grantId: string; decision: string; note?: string }

/**
 * The one implementation of a break-glass review, for `$break-glass-review` and the console's
 * decision form alike: compliance only (compliance.breakGlass.review), a privileged change (DCM
 * 110136 with the review before and after). `input` reads the caller's values; its mistakes are
 * refusals audited like any other. Answers the grant as it now stands.
 */
export async function reviewGrant(db: Knex, access: AccessContext, rawPatientId: string | undefined, input: () => ReviewInput): Promise<GrantRow> {
  const patientId = patientIdOf(rawPatientId);
  const facts = operationFacts(access, '$break-glass-review', patientId, 'U');
  return audited(db, access, facts, {}, async (tx) => {
    if (access.patientId || !grants(tx.membership.permissions, REVIEW_KEY)) throw forbidden(`Access denied: reviews need ${REVIEW_KEY}`);
    const { grantId, decision, note } = input();
    if (!(DECISIONS as readonly string[]).includes(decision)) throw unprocessable(`Parameter 'decision' must be one of ${DECISIONS.join(', ')}`, ['decision']);
    if (note !== undefined && note.length > 2000) throw unprocessable("Parameter 'note' must hold at most 2000 characters", ['note']);
    const g = await grantOf(tx.trx, patientId, grantId);
    const [after] = await tx.trx<GrantRow>('break_glass_grant').where({ id: g.id })
      .update({ review_status: decision, review_note: note ?? null, reviewed_at: tx.trx.fn.now(), reviewed_by: access.userId } as unknown as GrantRow).returning('*');
    await recordEvent(tx.trx, { grantId: g.id, patientId, actor: access.userId, kind: 'reviewed', detail: { decision, note: note ?? null } });
    tx.audit(securityFacts(access, '110136', 'U', {
      resourceType: 'Patient', resourceId: patientId,
      detail: { grant: g.id, old: jcs({ review: g.review_status, note: g.review_note }), new: jcs({ review: decision, note: note ?? null }) },
    }));
    return after;
  });
}

/** `POST Patient/{id}/$break-glass-review` with `grant`, `decision` and `note`: compliance only, a privileged change. */
export async function reviewBreakGlass(db: Knex, access: AccessContext, req: FhirRequest): Promise<FhirResult> {
  return answer(200, await reviewGrant(db, access, req.params.id, () => {
    const p = Parameters.of(req);
    return { grantId: p.id('grant'), decision: p.text('decision', { required: true }), note: p.text('note') };
  }));
}
