import type { AuditFacts } from '../audit/record';
import type { AccessContext } from '../auth/access-context';
import { isUuid } from '../http/ids';
import { callerFacts } from '../fhir/interaction';

/** The AuditEvent facts of a care operation on a patient (`$assign`, `$break-glass`...), success or refusal. */
export function operationFacts(access: AccessContext, name: string, patientId: string | undefined, action: AuditFacts['action']): AuditFacts {
  return {
    ...callerFacts(access, 'operation', action),
    ...(patientId ? { resourceType: 'Patient', resourceId: isUuid(patientId) ? patientId.toLowerCase() : patientId } : {}),
    detail: { operation: name },
  };
}

/** A DCM Security Alert: a break-glass life event (110127 started, 110138 stopped) or a privileged change (110136, 110131). */
export function securityFacts(access: AccessContext, code: '110127' | '110138' | '110136' | '110131', action: AuditFacts['action'], f: Partial<AuditFacts>): AuditFacts {
  return { ...callerFacts(access, code, action), type: 'security', ...f };
}

/** A patient/ token confined to `patientId`'s compartment: the patient's own app. */
export function isPatientToken(access: AccessContext, patientId: string): boolean {
  return access.patientId !== undefined && access.patientId.toLowerCase() === patientId.toLowerCase()
    && access.scopes.some((s) => s.context === 'patient');
}
