/**
 * The one access decision: SMART scopes ∩ the role's permission tree ∩ (for patient/ scopes) the
 * patient compartment. Pure and synchronous, so every route and every test asks the same question.
 */
import type { ParsedScope, SmartVerb } from './scopes';
import { ACTION_OF, type FhirInteraction, grants, permissionKey, resourceModules, type PermissionAction } from './permissions';

export type { PermissionAction } from './permissions';

export type { FhirInteraction } from './permissions';

/** The part of the request context authorize needs. */
export interface Grantee {
  scopes: readonly ParsedScope[];
  rolePermissions: unknown;
  /** Patient in context from the token (SMART launch/patient). */
  patientId?: string;
}

export interface Decision {
  allowed: boolean;
  action: PermissionAction;
  permissionKey: string | null;
  /** For the audit trail and the 403 text; never echoes PHI or caller-supplied strings. */
  reason?: string;
  /** Set when the grant comes only from patient/ scopes: rows must be confined to this patient. */
  compartmentPatientId?: string;
  /** Granular scope params when every granting scope is granular: OR of ANDs. undefined = unconstrained. */
  constraints?: ReadonlyArray<Readonly<Record<string, string>>>;
}

const VERB_OF: Readonly<Record<PermissionAction, SmartVerb>> = {
  view: 'r',
  search: 's',
  create: 'c',
  update: 'u',
  delete: 'd',
};

export function interactionAction(i: FhirInteraction): PermissionAction {
  return ACTION_OF[i];
}

/**
 * The scope half of the decision, which needs no database: whether any scope could grant the
 * interaction, and whether access must then be confined to the patient in context. The request
 * path uses it to set the RLS patient compartment in the same statement that opens the transaction.
 */
export function scopeDecision(who: Omit<Grantee, 'rolePermissions'>, resourceType: string, interaction: FhirInteraction): Decision {
  return decide({ ...who, rolePermissions: undefined }, resourceType, interaction, false);
}

export function authorize(who: Grantee, resourceType: string, interaction: FhirInteraction): Decision {
  return decide(who, resourceType, interaction, true);
}

function decide(who: Grantee, resourceType: string, interaction: FhirInteraction, checkRole: boolean): Decision {
  const action = interactionAction(interaction);
  const key = permissionKey(resourceType, action);
  const refuse = (reason: string): Decision => ({ allowed: false, action, permissionKey: key, reason });

  // The type comes from the URL: it is named in a reason only once we know it is one we serve.
  if (!Object.prototype.hasOwnProperty.call(resourceModules(), resourceType)) return refuse('unsupported resource type');
  if (key === null) return refuse(`${action} is not permitted on ${resourceType}`);

  const verb = VERB_OF[action];
  const applicable = who.scopes.filter((s) => (s.resourceType === resourceType || s.resourceType === '*') && s.verbs.has(verb));
  if (applicable.length === 0) return refuse(`no scope grants ${action} on ${resourceType}`);

  // user/ and system/ scopes reach the whole clinic. When both kinds apply, the patient/ ones are
  // dropped: a Decision cannot say "compartment OR granular filter", so we under-grant instead.
  const wide = applicable.filter((s) => s.context !== 'patient');
  const granting = wide.length > 0 ? wide : applicable;
  let compartmentPatientId: string | undefined;
  if (wide.length === 0) {
    if (typeof who.patientId !== 'string' || who.patientId === '') return refuse('patient scope without patient context');
    compartmentPatientId = who.patientId;
  }

  if (checkRole && !grants(who.rolePermissions, key)) return refuse(`role does not grant ${key}`);

  // One unconstrained scope makes the others' filters moot; otherwise any one filter may match.
  const constraints = granting.every((s) => s.params !== undefined)
    ? granting.map((s) => s.params as Readonly<Record<string, string>>)
    : undefined;

  return {
    allowed: true,
    action,
    permissionKey: key,
    ...(compartmentPatientId !== undefined ? { compartmentPatientId } : {}),
    ...(constraints !== undefined ? { constraints } : {}),
  };
}
