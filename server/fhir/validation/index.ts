// Write-time validation of FHIR R4 resources: the official JSON schema, the rules it cannot express,
// and the clinic profiles in fhir-profiles/. Synchronous; call warmUpValidators() at start-up.

import type { OperationOutcomeIssue } from 'fhir/r4';
import { ajvIssues } from './ajv-issues';
import { containedIssues } from './containment';
import { emptyValueIssues } from './empty-values';
import { describeValue, issue, type ValidationIssue } from './issues';
import { isObject, type JsonObject } from './json';
import { compileProfile, type CompiledProfile } from './profile-elements';
import { loadProfileStore, type StoredProfile } from './profile-store';
import { checkProfile } from './profiles';
import { schemaValidator } from './r4-schema';

export type { IssueCode, ValidationIssue } from './issues';

export type ValidatedType = 'Patient' | 'Appointment' | 'MedicationRequest' | 'DocumentReference' | 'AuditEvent';

export const VALIDATED_TYPES: readonly ValidatedType[] = ['Patient', 'Appointment', 'MedicationRequest', 'DocumentReference', 'AuditEvent'];

// What the validated types usually contain (seen in the R4 examples); any other type compiles on first use.
const COMMONLY_CONTAINED = ['Medication', 'Organization', 'Practitioner', 'PractitionerRole', 'RelatedPerson', 'Location', 'Device', 'Provenance', 'Substance', 'Binary'];

interface ClinicProfiles {
  stored: StoredProfile[];
  byType: Map<string, CompiledProfile[]>;
}

let profiles: ClinicProfiles | undefined;

function clinicProfiles(): ClinicProfiles {
  if (profiles) return profiles;
  const store = loadProfileStore();
  const typeByUrl = new Map(store.profiles.map((p) => [p.url, p.type]));
  const byType = new Map<string, CompiledProfile[]>();
  for (const stored of store.profiles) {
    byType.set(stored.type, [...(byType.get(stored.type) ?? []), compileProfile(stored, store.valueSets, typeByUrl)]);
  }
  profiles = { stored: store.profiles, byType };
  return profiles;
}

// Schema, element rules and ele-1 for one resource; each contained resource goes through it too.
function coreIssues(resource: JsonObject, type: string, root: string): ValidationIssue[] {
  const validate = schemaValidator(type);
  const issues = validate(resource) ? [] : ajvIssues(validate.errors ?? [], root, resource);
  issues.push(...emptyValueIssues(resource, root));
  return issues;
}

/**
 * Every problem that makes `resource` unfit to store as `expectedType`; [] means valid.
 * Clinic profiles apply to every resource of their type, named in meta.profile or not.
 */
export function validateResource(resource: unknown, expectedType: ValidatedType): OperationOutcomeIssue[] {
  if (!isObject(resource)) {
    return [issue('invalid', expectedType, `expected a JSON object holding a ${expectedType}, got ${describeValue(resource)}`)];
  }
  if (resource.resourceType !== expectedType) {
    return [issue('invalid', expectedType, `expected resourceType "${expectedType}", got ${describeValue(resource.resourceType)}`)];
  }
  const issues = coreIssues(resource, expectedType, expectedType);
  issues.push(...containedIssues(resource, expectedType, coreIssues));
  // A profile restating a core rule (a required binding, a min 1) would report the same fault twice.
  const reported = new Set(issues.map((i) => `${i.code} ${i.expression[0]}`));
  for (const profile of clinicProfiles().byType.get(expectedType) ?? []) {
    for (const i of checkProfile(profile, resource)) {
      if (reported.has(`${i.code} ${i.expression[0]}`)) continue;
      profileIssues.add(i);
      issues.push(i);
    }
  }
  return issues;
}

const profileIssues = new WeakSet<OperationOutcomeIssue>();

/**
 * The status a write with these issues gets: 422 when the resource is valid FHIR that only our
 * profiles refuse (FHIR's "violates applicable profiles"), 400 when it is not valid FHIR at all.
 */
export function validationStatus(issues: readonly OperationOutcomeIssue[]): 400 | 422 {
  return issues.length > 0 && issues.every((i) => profileIssues.has(i)) ? 422 : 400;
}

/** Compiles the schema validators and loads the clinic profiles, so the first request is not slow. */
export function warmUpValidators(): void {
  for (const type of [...VALIDATED_TYPES, ...COMMONLY_CONTAINED]) schemaValidator(type);
  clinicProfiles();
}

/** The clinic StructureDefinitions from fhir-profiles/, as published (copies: callers may not edit them). */
export function listProfiles(): Array<{ id: string; url: string; type: string; resource: object }> {
  return clinicProfiles().stored.map((p) => ({ id: p.id, url: p.url, type: p.type, resource: structuredClone(p.resource) }));
}
