import { sqlLiteral } from '../../db/literal';
import type { AuditFacts } from '../audit/record';
import type { ActiveGrant, Membership } from '../auth/access-context';

/** The patients an event concerns (a Patient resource is its own patient). */
function patientsOf(f: AuditFacts): string[] {
  const self = f.resourceType === 'Patient' && f.resourceId ? [f.resourceId.toLowerCase()] : [];
  return [...(f.patientIds ?? []), ...self];
}

/**
 * A successful access to a patient for whom the caller holds an active break-glass grant is an
 * access under that grant (README, "Security model": we do not ask whether the row needed it):
 * purpose of use BTG and the grant on the AuditEvent. Answers the facts unchanged otherwise.
 */
export function underGrant(m: Membership, f: AuditFacts): { facts: AuditFacts; grant?: ActiveGrant } {
  if (!m.grants?.length || f.outcome !== '0' || f.type === 'security') return { facts: f };
  const patients = patientsOf(f);
  const grant = m.grants.find((g) => patients.includes(g.patient));
  if (!grant) return { facts: f };
  return { facts: { ...f, purposeOfUse: 'BTG', detail: { ...(f.detail ?? {}), grant: grant.id } }, grant };
}

/** The grant's `first-use` event, written with the COMMIT of the first access under it (once: a unique index). */
export function firstUseSql(clinicId: string, userId: string, grant: ActiveGrant): string {
  return 'insert into break_glass_event (clinic_id, grant_id, patient_id, actor, kind) values '
    + `(${sqlLiteral(clinicId)}::uuid, ${sqlLiteral(grant.id)}::uuid, ${sqlLiteral(grant.patient)}::uuid, ${sqlLiteral(userId)}, 'first-use') `
    + "on conflict (clinic_id, grant_id, kind) where kind <> 'reviewed' and kind <> 'refused' do nothing";
}
