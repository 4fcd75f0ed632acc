import type { Request } from 'express';
import type { Knex } from 'knex';
import type { AuditFacts } from '../audit/balp';
import { recordAudit, writeAudit } from '../audit/writer';
import { authorize, type Decision, type FhirInteraction, scopeDecision } from '../auth/authorize';
import type { Config } from '../config';
import { forbidden, OperationOutcomeError } from '../http/errors';
import { translateDbError } from '../http/db-errors';
import { currentRequest } from '../http/request-context';
import type { AccessContext, Membership } from '../tenancy/access-context';
import { withClinic } from '../tenancy/with-clinic';
import { Repository } from './repository';
import type { ResourceDefinition } from './resources/types';

export interface FhirDeps {
  db: Knex;
  cfg: Config;
  pageSecret: string;
}

/** What a handler answers; `audit` names what was touched, for the AuditEvent. */
export interface FhirResult {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  audit?: { resourceId?: string; versionId?: string; patientIds?: string[] };
}

export interface InteractionContext {
  deps: FhirDeps;
  def: ResourceDefinition;
  req: Request;
  access: AccessContext;
  membership: Membership;
  decision: Decision;
  repo: Repository;
  trx: Knex.Transaction;
}

const SUBTYPE: Record<FhirInteraction, string> = {
  read: 'read', vread: 'vread', 'history-instance': 'history-instance', 'history-type': 'history-type',
  search: 'search-type', create: 'create', update: 'update', patch: 'patch', delete: 'delete',
};
const ACTION: Record<FhirInteraction, AuditFacts['action']> = {
  read: 'R', vread: 'R', 'history-instance': 'R', 'history-type': 'R', search: 'E', create: 'C', update: 'U', patch: 'U', delete: 'D',
};
class AbortedByClientError extends Error {
  constructor(readonly mapped: OperationOutcomeError, readonly roleName: string) { super(mapped.message); }
}

const WRITES = new Set<FhirInteraction>(['create', 'update', 'patch', 'delete']);

/**
 * Runs one FHIR interaction the only way it may run: authorize before any query, one RLS
 * transaction, the handler (writes inside a savepoint), and an AuditEvent committed with the result.
 * A refusal or a client error is audited in the same transaction and then thrown.
 */
export async function runInteraction(
  deps: FhirDeps, req: Request, def: ResourceDefinition, interaction: FhirInteraction,
  handler: (ctx: InteractionContext) => Promise<FhirResult>,
): Promise<FhirResult> {
  const access = req.access as AccessContext;
  const info = currentRequest();
  const facts: AuditFacts = {
    interaction: SUBTYPE[interaction], action: ACTION[interaction], outcome: '0',
    clinicId: access.clinicId, userId: access.userId, clientId: access.clientId, fhirUser: access.fhirUser,
    sourceIp: info?.sourceIp, resourceType: def.type,
    resourceId: typeof req.params.id === 'string' ? req.params.id : undefined,
    versionId: typeof req.params.vid === 'string' ? req.params.vid : undefined,
    query: interaction === 'search' ? new URLSearchParams(req.query as Record<string, string>).toString() : undefined,
    requestId: info?.requestId,
  };
  const scoped = scopeDecision(access, def.type, interaction);
  let outcome: { result?: FhirResult; error?: OperationOutcomeError };
  try {
    outcome = await withClinic(deps.db, { ...access, compartmentPatientId: scoped.allowed ? scoped.compartmentPatientId : undefined }, async ({ trx, membership }) => {
      const refuse = async (error: OperationOutcomeError, roleName?: string) => {
        await writeAudit(trx, { ...facts, roleName, outcome: '4', outcomeDesc: error.message });
        return { error };
      };
      if (!membership) return refuse(forbidden('The user has no active membership at this clinic'));
      const decision = authorize({ scopes: access.scopes, rolePermissions: membership.permissions, patientId: access.patientId }, def.type, interaction);
      if (!decision.allowed) return refuse(forbidden(`Access denied: ${decision.reason ?? 'not permitted'}`), membership.role);
      if (decision.constraints && interaction !== 'search') {
        return refuse(forbidden('Access denied: granular scopes are honoured on search only'), membership.role);
      }
      try {
        const run = (t: Knex.Transaction) => handler({ deps, def, req, access, membership, decision, repo: new Repository(def, t), trx: t });
        const result = WRITES.has(interaction) ? await trx.transaction(run) : await run(trx);
        await writeAudit(trx, { ...facts, ...result.audit, roleName: membership.role, outcome: '0' });
        return { result };
      } catch (err) {
        if (err instanceof OperationOutcomeError) return refuse(err, membership.role);
        const mapped = translateDbError(err);
        if (!mapped) throw err;
        info?.log.warn({ code: (err as { code?: string }).code, msg: (err as Error).message.slice(-200) }, 'database refused a client request');
        // A failed statement aborts the transaction (reads run without a savepoint): roll back,
        // then audit the refusal on its own.
        if (!WRITES.has(interaction)) throw new AbortedByClientError(mapped, membership.role);
        return refuse(mapped, membership.role);
      }
    });
  } catch (err) {
    if (err instanceof AbortedByClientError) {
      await recordAudit(deps.db, { ...facts, roleName: err.roleName, outcome: '4', outcomeDesc: err.mapped.message });
      throw err.mapped;
    }
    // The transaction rolled back: record the serious failure on its own, then let it surface as 500.
    await recordAudit(deps.db, { ...facts, outcome: '8', outcomeDesc: 'internal error' }).catch(() => undefined);
    throw err;
  }
  if (outcome.error) throw outcome.error;
  return outcome.result as FhirResult;
}
