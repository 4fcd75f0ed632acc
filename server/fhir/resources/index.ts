import { servePermissionModules } from '../../auth/permissions';
import { AppointmentDefinition } from './appointment';
import { AuditEventDefinition } from './audit-event';
import { DocumentReferenceDefinition } from './document-reference';
import { MedicationRequestDefinition } from './medication-request';
import { PatientDefinition } from './patient';
import { PractitionerDefinition } from './practitioner';
import type { ResourceDefinition } from './types';

/** Every resource type this server serves. Adding one: a file here and a migration in db/. */
export const RESOURCE_DEFINITIONS: readonly ResourceDefinition[] = [
  PatientDefinition,
  AppointmentDefinition,
  MedicationRequestDefinition,
  DocumentReferenceDefinition,
  AuditEventDefinition,
  PractitionerDefinition,
];

// The permission tree learns each type's module and interactions from here (auth never imports upward).
servePermissionModules(RESOURCE_DEFINITIONS);

export function definitionOf(type: string): ResourceDefinition | undefined {
  return RESOURCE_DEFINITIONS.find((d) => d.type === type);
}
