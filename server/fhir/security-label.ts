import type { ResourceDefinition } from './resources/types';

export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

/** The type's rows are a patient's records, so they carry a label column and the care policy (migration 032). */
export const isLabelled = (def: ResourceDefinition): boolean => def.compartment === 'self' || 'paths' in def.compartment;

/**
 * The `security_label` column of a resource: `V` (very restricted) or `R` (restricted) from its
 * meta.security v3-Confidentiality codes, the stricter one when both are there; null otherwise.
 */
export function securityLabelOf(resource: { meta?: Record<string, unknown> }): 'R' | 'V' | null {
  const security = resource.meta?.security;
  if (!Array.isArray(security)) return null;
  let label: 'R' | 'V' | null = null;
  for (const c of security as Array<{ system?: unknown; code?: unknown }>) {
    if (!c || c.system !== CONFIDENTIALITY_SYSTEM) continue;
    if (c.code === 'V') return 'V';
    if (c.code === 'R') label = 'R';
  }
  return label;
}
