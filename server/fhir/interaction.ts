import type { Knex } from 'knex';
import type { SqlExecutor } from '../../db/knex-client';
import type { AuditFacts } from '../audit/record';
import { authorize, type Decision, type FhirInteraction, scopeDecision } from '../auth/authorize';
import type { Config } from '../config';
import { forbidden } from '../http/errors';
import { audited, type AuditedTx } from '../pipeline/audited';
import type { AccessContext, Membership } from '../auth/access-context';
import { type FhirResource, Repository, type StoredVersion } from './repository';
import type { FhirRequest } from './request';
import type { ResourceDefinition } from './resources/types';

export interface FhirDeps {
  db: Knex;
  cfg: Config;
  pageSecret: string;
  hooks?: InteractionHooks;
}

/** Type-specific work around the generic engine (documents: uploads on write, signed links on read). */
export interface InteractionHooks {
  /** Runs on every version about to be stored (not on deletions); returns the resource to store. */
  beforeWrite?(ctx: InteractionContext, resource: FhirResource, at: { id: string; previous?: StoredVersion }): Promise<FhirResource>;
  /** Refuses what beforeWrite would refuse, storing nothing and binding nothing (`$validate`). */
  checkWrite?(ctx: InteractionContext, resource: FhirResource, at: { id: string }): Promise<void>;
  /** Rewrites what a read, search or history answers; AuditEvents it owes go in `audit.extra`. */
  present?(ctx: InteractionContext, interaction: FhirInteraction, result: FhirResult): Promise<FhirResult>;
}

/** What the AuditEvent of an interaction should name, as the handler learned it. */
export interface AuditNote {
  resourceId?: string;
  versionId?: string;
  patientIds?: string[];
  /** The interaction that actually happened, when it differs (a conditional update that created). */
  interaction?: FhirInteraction;
  /** The search criteria used (searches and conditional interactions). */
  query?: string;
  /** Types whose resources were withheld (e.g. includes the caller may not read): each is audited as a refusal. */
  withheld?: Array<{ resourceType: string; reason: string }>;
  /** Further AuditEvents the interaction owes (e.g. one per signed document link handed out). */
  extra?: AuditFacts[];
}

/** What a handler answers; `audit` names what was touched, for the AuditEvent. */
export interface FhirResult {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  audit?: AuditNote;
}

/** One caller's open RLS transaction (the pipeline's), with what the FHIR engine adds to it. */
export interface ClinicScope extends AuditedTx {
  deps: FhirDeps;
}

export interface InteractionContext extends ClinicScope {
  def: ResourceDefinition;
  req: FhirRequest;
  membership: Membership;
  decision: Decision;
  repo: Repository;
}

export type Handler = (ctx: InteractionContext) => Promise<FhirResult>;

const SUBTYPE: Record<FhirInteraction, string> = {
  read: 'read', vread: 'vread', 'history-instance': 'history-instance', 'history-type': 'history-type',
  search: 'search-type', create: 'create', update: 'update', patch: 'patch', delete: 'delete',
};
const ACTION: Record<FhirInteraction, AuditFacts['action']> = {
  read: 'R', vread: 'R', 'history-instance': 'R', 'history-type': 'R', search: 'E', create: 'C', update: 'U', patch: 'U', delete: 'D',
};
const READS: ReadonlySet<FhirInteraction> = new Set<FhirInteraction>(['read', 'vread', 'history-instance', 'history-type', 'search']);

/** The facts every AuditEvent of this caller shares (who, from where, which request). */
export function callerFacts(access: AccessContext, interaction: string, action: AuditFacts['action']): AuditFacts {
  return {
    interaction, action, outcome: '0',
    clinicId: access.clinicId, userId: access.userId, clientId: access.clientId, fhirUser: access.fhirUser,
  };
}

export function interactionFacts(access: AccessContext, req: FhirRequest, def: ResourceDefinition, interaction: FhirInteraction): AuditFacts {
  const conditional = req.query.length > 0 && (interaction === 'update' || interaction === 'delete');
  const criteria = interaction === 'search' || conditional
    ? new URLSearchParams(req.query.map(([k, v]): [string, string] => [k, v])).toString()
    : req.headers['if-none-exist'];
  return {
    ...callerFacts(access, SUBTYPE[interaction], ACTION[interaction]),
    resourceType: def.type, resourceId: req.params.id, versionId: req.params.vid, query: criteria,
  };
}

/** The same question authorize() asks for the request's own type, for another type or interaction. */
export function permits(ctx: Pick<InteractionContext, 'access' | 'membership'>, type: string, interaction: FhirInteraction): Decision {
  return authorize({ scopes: ctx.access.scopes, rolePermissions: ctx.membership.permissions, patientId: ctx.access.patientId }, type, interaction);
}

/**
 * One interaction inside an open audited transaction: authorize before any query, run the handler,
 * present the answer, and queue the AuditEvents it owes. A refusal is thrown (the pipeline records
 * it). Used alone (runInteraction) and per entry of a batch or transaction Bundle.
 */
export async function interact(scope: ClinicScope, req: FhirRequest, def: ResourceDefinition, interaction: FhirInteraction, handler: Handler): Promise<FhirResult> {
  const decision = scope.require(def.type, interaction);
  if (decision.constraints && interaction !== 'search') throw forbidden('Access denied: granular scopes are honoured on search only');
  // RLS confines this transaction to one compartment; an interaction needing another cannot run in it.
  if (decision.compartmentPatientId && decision.compartmentPatientId !== scope.compartmentPatientId) {
    throw forbidden('Access denied: patient-scoped access cannot run in this context');
  }
  const hooks = scope.deps.hooks;
  const beforeWrite = hooks?.beforeWrite;
  const repo = new Repository(def, scope.trx, { fhirBase: scope.deps.cfg.fhirBaseUrl, beforeWrite: beforeWrite && ((r, at) => beforeWrite(ctx, r, at)), sql: scope.sql });
  const ctx: InteractionContext = { ...scope, def, req, decision, repo };
  const answer = await handler(ctx);
  const result = hooks?.present && READS.has(interaction) ? await hooks.present(ctx, interaction, answer) : answer;
  const facts = interactionFacts(scope.access, req, def, interaction);
  const { withheld, interaction: actual, extra, ...note } = result.audit ?? {};
  scope.audit({ ...facts, ...note, ...(actual ? { interaction: SUBTYPE[actual], action: ACTION[actual] } : {}) });
  for (const w of withheld ?? []) {
    scope.audit({ ...facts, resourceType: w.resourceType, resourceId: undefined, outcome: '4', outcomeDesc: w.reason });
  }
  for (const e of extra ?? []) scope.audit(e);
  return result;
}

/** The compartment a transaction must be confined to, when only patient/ scopes grant the access. */
export function compartmentFor(access: AccessContext, wants: Array<{ type: string; interaction: FhirInteraction }>): string | undefined {
  for (const w of wants) {
    const d = scopeDecision(access, w.type, w.interaction);
    if (d.allowed && d.compartmentPatientId) return d.compartmentPatientId;
  }
  return undefined;
}

/** Runs one FHIR interaction the only way it may run: through the audited pipeline. */
export async function runInteraction(
  deps: FhirDeps, access: AccessContext, req: FhirRequest, def: ResourceDefinition, interaction: FhirInteraction, handler: Handler,
): Promise<FhirResult> {
  const compartmentPatientId = compartmentFor(access, [{ type: def.type, interaction }]);
  return audited(deps.db, access, interactionFacts(access, req, def, interaction), { compartmentPatientId },
    (tx) => interact({ ...tx, deps }, req, def, interaction, handler));
}
