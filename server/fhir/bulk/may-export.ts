import type { Membership } from '../../auth/access-context';
import { authorize, type Decision } from '../../auth/authorize';
import type { AccessContext } from '../../auth/access-context';
import { forbidden } from '../../http/errors';
import type { ResourceDefinition } from '../resources/types';

/**
 * Whether the principal may export a type: a search of it (scopes ∩ role), not narrowed by a
 * granular scope (an export cannot honour one), and in the same compartment the job runs in.
 * The refusal as a reason, or undefined when allowed.
 */
export function exportRefusal(access: AccessContext, membership: Membership, def: ResourceDefinition, compartment: string | undefined): string | undefined {
  const d: Decision = authorize({ scopes: access.scopes, rolePermissions: membership.permissions, patientId: access.patientId }, def.type, 'search');
  if (!d.allowed) return `Access denied: ${d.reason ?? 'not permitted'}`;
  if (d.constraints) return `Access denied: ${def.type} is granted only through granular scopes, which an export cannot honour`;
  if ((d.compartmentPatientId ?? undefined) !== compartment) return `Access denied: ${def.type} is granted for another compartment than this export's`;
  return undefined;
}

/** The same check, thrown as the 403 of a type the caller named or a page the job reads. */
export function requireExport(access: AccessContext, membership: Membership, def: ResourceDefinition, compartment: string | undefined): void {
  const reason = exportRefusal(access, membership, def, compartment);
  if (reason) throw forbidden(reason);
}
