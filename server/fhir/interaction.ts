import type { Knex } from 'knex';
import type { SqlExecutor } from '../../db/knex-client';
import type { AuditFacts } from '../audit/record';
import { auditInsertSql, recordAudit, writeAudit } from '../audit/writer';
import { authorize, type Decision, type FhirInteraction, scopeDecision } from '../auth/authorize';
import type { Config } from '../config';
import { forbidden, OperationOutcomeError } from '../http/errors';
import { translateDbError } from '../http/db-errors';
import { currentRequest } from '../http/request-context';
import type { AccessContext, Membership } from '../tenancy/access-context';
import { TokenRevokedError, withClinic } from '../tenancy/with-clinic';
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

/** One caller's open RLS transaction: what every interaction run inside it shares. */
export interface ClinicScope {
  deps: FhirDeps;
  access: AccessContext;
  /** NULL when the user has no active membership at the clinic. */
  membership: Membership | null;
  trx: Knex.Transaction;
  /** The patient compartment RLS enforces in this transaction (app.patient_id), if any. */
  compartmentPatientId?: string;
  /** Work to run once the transaction has ended, committed or not (e.g. removing uploads that did not commit). */
  afterEnd?: Array<() => Promise<void>>;
  /** Queues a statement with literal values to run just before COMMIT, in its round trip (see withClinic). */
  atCommit?: (sql: string) => void;
  /** The transaction's connection without knex, for the repository's statements (see withClinic). */
  sql?: SqlExecutor;
}

export interface InteractionContext extends ClinicScope {
  def: ResourceDefinition;
  req: FhirRequest;
  membership: Membership;
  decision: Decision;
  repo: Repository;
}

export type Handler = (ctx: InteractionContext) => Promise<FhirResult>;

/** The outcome of one interaction and the AuditEvents it owes; the caller decides where they are written. */
export interface Performed {
  result?: FhirResult;
  error?: OperationOutcomeError;
  audits: AuditFacts[];
  /** A database error aborted the (savepoint-less) transaction: audit only after a rollback. */
  aborted?: boolean;
}

const SUBTYPE: Record<FhirInteraction, string> = {
  read: 'read', vread: 'vread', 'history-instance': 'history-instance', 'history-type': 'history-type',
  search: 'search-type', create: 'create', update: 'update', patch: 'patch', delete: 'delete',
};
const ACTION: Record<FhirInteraction, AuditFacts['action']> = {
  read: 'R', vread: 'R', 'history-instance': 'R', 'history-type': 'R', search: 'E', create: 'C', update: 'U', patch: 'U', delete: 'D',
};
export const WRITES: ReadonlySet<FhirInteraction> = new Set<FhirInteraction>(['create', 'update', 'patch', 'delete']);
const READS: ReadonlySet<FhirInteraction> = new Set<FhirInteraction>(['read', 'vread', 'history-instance', 'history-type', 'search']);

/** The facts every AuditEvent of this caller shares (who, from where, which request). */
export function callerFacts(access: AccessContext, interaction: string, action: AuditFacts['action']): AuditFacts {
  const info = currentRequest();
  return {
    interaction, action, outcome: '0',
    clinicId: access.clinicId, userId: access.userId, clientId: access.clientId, fhirUser: access.fhirUser,
    sourceIp: info?.sourceIp, requestId: info?.requestId,
  };
}

function interactionFacts(access: AccessContext, req: FhirRequest, def: ResourceDefinition, interaction: FhirInteraction): AuditFacts {
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
 * One interaction inside an open RLS transaction: authorize before any query, run the handler
 * (inside a savepoint when asked), and say which AuditEvents it owes. Used alone (runInteraction)
 * and per entry of a batch or transaction Bundle.
 */
export async function performInteraction(
  scope: ClinicScope, req: FhirRequest, def: ResourceDefinition, interaction: FhirInteraction, handler: Handler,
  opts: { savepoint: boolean; rollbackOnError?: boolean },
): Promise<Performed> {
  const facts = interactionFacts(scope.access, req, def, interaction);
  const { membership } = scope;
  const refuse = (error: OperationOutcomeError, aborted = false): Performed => ({
    error, aborted, audits: [{ ...facts, roleName: membership?.role, outcome: '4', outcomeDesc: error.message }],
  });
  if (!membership) return refuse(forbidden('The user has no active membership at this clinic'));
  const decision = permits({ access: scope.access, membership }, def.type, interaction);
  if (!decision.allowed) return refuse(forbidden(`Access denied: ${decision.reason ?? 'not permitted'}`));
  if (decision.constraints && interaction !== 'search') return refuse(forbidden('Access denied: granular scopes are honoured on search only'));
  // RLS confines this transaction to one compartment; an interaction needing another cannot run in it.
  if (decision.compartmentPatientId && decision.compartmentPatientId !== scope.compartmentPatientId) {
    return refuse(forbidden('Access denied: patient-scoped access cannot run in this context'));
  }
  try {
    const hooks = scope.deps.hooks;
    const run = async (trx: Knex.Transaction): Promise<FhirResult> => {
      const beforeWrite = hooks?.beforeWrite;
      const repo = new Repository(def, trx, { fhirBase: scope.deps.cfg.fhirBaseUrl, beforeWrite: beforeWrite && ((r, at) => beforeWrite(ctx, r, at)), sql: scope.sql });
      const ctx: InteractionContext = { ...scope, trx, membership, def, req, decision, repo };
      const answer = await handler(ctx);
      return hooks?.present && READS.has(interaction) ? hooks.present(ctx, interaction, answer) : answer;
    };
    const result = opts.savepoint ? await scope.trx.transaction(run) : await run(scope.trx);
    const { withheld, interaction: actual, extra, ...note } = result.audit ?? {};
    const done: AuditFacts = {
      ...facts, ...note, roleName: membership.role, outcome: '0',
      ...(actual ? { interaction: SUBTYPE[actual], action: ACTION[actual] } : {}),
    };
    const refusals = (withheld ?? []).map((w): AuditFacts => ({
      ...facts, roleName: membership.role, resourceType: w.resourceType, resourceId: undefined, outcome: '4', outcomeDesc: w.reason,
    }));
    return { result, audits: [done, ...refusals, ...(extra ?? [])] };
  } catch (err) {
    // Without a savepoint, what a failed write did is undone by rolling the whole transaction back.
    if (err instanceof OperationOutcomeError) return refuse(err, opts.rollbackOnError === true);
    const mapped = translateDbError(err);
    if (!mapped) throw err;
    currentRequest()?.log.warn({ code: (err as { code?: string }).code, msg: (err as Error).message.slice(-200) }, 'database refused a client request');
    return refuse(mapped, !opts.savepoint);
  }
}

export async function writeAudits(trx: Knex.Transaction, audits: readonly AuditFacts[]): Promise<void> {
  for (const a of audits) await writeAudit(trx, a);
}

/** Thrown out of withClinic to roll back a transaction a client's bad input aborted. */
export class AbortedByClientError extends Error {
  constructor(readonly mapped: OperationOutcomeError, readonly audits: AuditFacts[]) { super(mapped.message); }
}

/** The compartment a transaction must be confined to, when only patient/ scopes grant the access. */
export function compartmentFor(access: AccessContext, wants: Array<{ type: string; interaction: FhirInteraction }>): string | undefined {
  for (const w of wants) {
    const d = scopeDecision(access, w.type, w.interaction);
    if (d.allowed && d.compartmentPatientId) return d.compartmentPatientId;
  }
  return undefined;
}

/**
 * Runs `work` in one RLS transaction of the caller, with the audit guarantees of a request: a client
 * error that aborted the transaction is audited after the rollback, a server error leaves an
 * outcome-8 AuditEvent of `failed`.
 */
export async function inClinicScope<T>(
  deps: FhirDeps, access: AccessContext, compartmentPatientId: string | undefined, failed: AuditFacts,
  work: (scope: ClinicScope) => Promise<T>,
): Promise<T> {
  const afterEnd: Array<() => Promise<void>> = [];
  try {
    return await withClinic(deps.db, { ...access, compartmentPatientId }, ({ trx, membership, atCommit, sql }) =>
      work({ deps, access, membership, trx, compartmentPatientId, afterEnd, atCommit, sql }));
  } catch (err) {
    if (err instanceof AbortedByClientError) {
      for (const a of err.audits) await recordAudit(deps.db, a);
      throw err.mapped;
    }
    if (err instanceof TokenRevokedError) throw err; // a refused token, audited as such by the error handler
    // The transaction rolled back: record the serious failure on its own, then let it surface as 500.
    await recordAudit(deps.db, { ...failed, outcome: '8', outcomeDesc: 'internal error' }).catch(() => undefined);
    throw err;
  } finally {
    for (const work of afterEnd) await work().catch((err) => currentRequest()?.log.error({ err }, 'work after a transaction failed'));
  }
}

/**
 * Runs one FHIR interaction the only way it may run: authorize before any query, one RLS
 * transaction, the handler, and an AuditEvent committed with the result. A refusal is audited in
 * the same transaction; a failed write is rolled back and its refusal audited on its own.
 */
export async function runInteraction(
  deps: FhirDeps, access: AccessContext, req: FhirRequest, def: ResourceDefinition, interaction: FhirInteraction, handler: Handler,
): Promise<FhirResult> {
  const compartment = compartmentFor(access, [{ type: def.type, interaction }]);
  const performed = await inClinicScope(deps, access, compartment, interactionFacts(access, req, def, interaction), async (scope) => {
    // A write that fails rolls the transaction back (its refusal is audited after): no savepoint round trips.
    const p = await performInteraction(scope, req, def, interaction, handler, { savepoint: false, rollbackOnError: WRITES.has(interaction) });
    if (p.aborted && p.error) throw new AbortedByClientError(p.error, p.audits);
    // The AuditEvents travel with the COMMIT: same transaction, no round trip of their own.
    for (const a of p.audits) scope.atCommit?.(auditInsertSql(a));
    if (!scope.atCommit) await writeAudits(scope.trx, p.audits);
    return p;
  });
  if (performed.error) throw performed.error;
  return performed.result as FhirResult;
}
