import type { Knex } from 'knex';
import type { SqlExecutor } from '../../db/knex-client';
import type { AuditFacts } from '../audit/record';
import { auditInsertSql, recordAudits, withRequestFacts } from '../audit/writer';
import { authorize, type Decision, type FhirInteraction } from '../auth/authorize';
import { translateDbError, unavailableDbError } from '../http/db-errors';
import { forbidden, OperationOutcomeError } from '../http/errors';
import { currentRequest } from '../http/request-context';
import { countAuditWriteFailure } from '../ops/metrics';
import type { AccessContext, Membership } from '../auth/access-context';
import { TokenRevokedError, withClinic } from '../tenancy/with-clinic';
import { firstUseSql, underGrant } from './grant-use';

/**
 * The one way a request touches clinic data: ONE RLS transaction of the caller, the work (which
 * only returns a result or throws), and its AuditEvents. Successes are written with the COMMIT (in
 * its round trip); a refusal or failure rolls the transaction back and is recorded right after,
 * here and nowhere else, together with any refusal recorded earlier in the same transaction (a
 * failed Bundle entry). REST interactions, Bundle entries, Binary uploads and downloads all run here.
 */
export interface AuditedTx {
  access: AccessContext;
  membership: Membership;
  trx: Knex.Transaction;
  /** The transaction's connection without knex, for hot statements. */
  sql: SqlExecutor;
  /** The patient compartment RLS confines this transaction to (app.patient_id), if any. */
  compartmentPatientId?: string;
  /** Work to run once the transaction has ended, committed or not (e.g. removing uploads that did not commit). */
  afterEnd: Array<() => Promise<void>>;
  /** Queues an AuditEvent: written with the COMMIT; a refusal (outcome 4 or 8) is written even if the transaction rolls back. */
  audit(facts: AuditFacts): void;
  /** The permission check of every interaction: the decision, or a 403 refusal. */
  require(type: string, interaction: FhirInteraction): Decision;
  /**
   * One step with its own AuditEvent facts (a Bundle entry). Its refusal is recorded with `facts`;
   * with `savepoint`, only the step rolls back and its error is returned, otherwise it is rethrown.
   */
  step<T>(facts: AuditFacts, work: (tx: AuditedTx) => Promise<T>, opts: { savepoint: boolean }): Promise<{ value: T } | { error: OperationOutcomeError }>;
}


/** The client's mistake or refusal an error stands for; null for a failure of ours. */
function asRefusal(err: unknown): OperationOutcomeError | null {
  return err instanceof OperationOutcomeError ? err : translateDbError(err);
}

/** The AuditEvent of a refused or failed step: the one shape every refusal is recorded in. */
function refusalFacts(facts: AuditFacts, err: unknown, roleName: string | undefined): AuditFacts {
  if (err instanceof TokenRevokedError) {
    return { ...facts, interaction: 'login', action: 'E', resourceType: undefined, resourceId: undefined, versionId: undefined, query: undefined, outcome: '4', outcomeDesc: 'token refused: token revoked' };
  }
  const refusal = asRefusal(err);
  return {
    ...facts, roleName: facts.roleName ?? roleName,
    outcome: refusal && refusal.status < 500 ? '4' : '8',
    outcomeDesc: refusal?.message ?? 'internal error',
  };
}

const isRefusal = (f: AuditFacts) => f.outcome !== '0';

/** The audit trail could not be written with the data: the request fails and nothing it read leaves. */
class AuditWriteFailed extends OperationOutcomeError {
  constructor() {
    super(500, { severity: 'fatal', code: 'exception', diagnostics: 'The access could not be recorded in the audit trail: nothing was returned or changed' });
  }
}

/** Records events after a rollback, in a transaction of their own; a failure here is logged, never hidden as success. */
async function recordAfterRollback(db: Knex, events: AuditFacts[]): Promise<void> {
  await recordAudits(db, events).catch((err) => {
    countAuditWriteFailure('refusal');
    currentRequest()?.log.error({ err }, 'recording a refusal in the audit trail failed');
  });
}

export interface AuditedOptions {
  /** Confine the transaction to this patient's compartment (patient/ scopes). */
  compartmentPatientId?: string;
}

/** Runs `work` as one audited step of the caller; see AuditedTx. */
export async function audited<T>(
  db: Knex, access: AccessContext, facts: AuditFacts, opts: AuditedOptions, work: (tx: AuditedTx) => Promise<T>,
): Promise<T> {
  const queued: AuditFacts[] = [];
  const afterEnd: Array<() => Promise<void>> = [];
  let roleName: string | undefined;
  let committing = false;
  try {
    return await withClinic(db, { ...access, compartmentPatientId: opts.compartmentPatientId }, async ({ trx, membership, atCommit, sql }) => {
      if (!membership) throw forbidden('The user has no active membership at this clinic');
      roleName = membership.role;
      const tx = makeTx({ access, membership, trx, sql, compartmentPatientId: opts.compartmentPatientId, afterEnd, queued });
      const value = await work(tx);
      const firstUses = new Set<string>();
      for (const a of queued) {
        const { facts: f, grant } = underGrant(membership, { ...a, roleName: a.roleName ?? membership.role });
        atCommit(auditInsertSql(withRequestFacts(f)));
        if (grant && !grant.used && !firstUses.has(grant.id)) {
          firstUses.add(grant.id);
          atCommit(firstUseSql(access.clinicId, access.userId, grant));
        }
      }
      committing = true;
      return value;
    });
  } catch (err) {
    if (committing) {
      // The COMMIT (with its audit rows) failed: a failure of ours, recorded if the database lets us.
      currentRequest()?.log.error({ err }, 'the audited commit failed');
      countAuditWriteFailure('commit');
      await recordAfterRollback(db, [refusalFacts(facts, err, roleName)]);
      // The database went away mid-commit: the client may retry (503), as for any other statement.
      throw unavailableDbError(err) ?? new AuditWriteFailed();
    }
    await recordAfterRollback(db, [...queued.filter(isRefusal), refusalFacts(facts, err, roleName)]);
    throw asRefusal(err) ?? err;
  } finally {
    for (const fn of afterEnd) await fn().catch((err) => currentRequest()?.log.error({ err }, 'work after a transaction failed'));
  }
}

/**
 * A step of the caller that holds no transaction (a document upload streaming to the store): its
 * refusal is recorded the same way as a refusal inside one.
 */
export async function auditedOutside<T>(db: Knex, facts: AuditFacts, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    await recordAfterRollback(db, [refusalFacts(facts, err, undefined)]);
    throw asRefusal(err) ?? err;
  }
}

interface TxParts {
  access: AccessContext;
  membership: Membership;
  trx: Knex.Transaction;
  sql: SqlExecutor;
  compartmentPatientId?: string;
  afterEnd: Array<() => Promise<void>>;
  queued: AuditFacts[];
}

function makeTx(p: TxParts): AuditedTx {
  const tx: AuditedTx = {
    access: p.access, membership: p.membership, trx: p.trx, sql: p.sql, compartmentPatientId: p.compartmentPatientId, afterEnd: p.afterEnd,
    audit: (facts) => { p.queued.push(facts); },
    require: (type, interaction) => {
      const decision = authorize({ scopes: p.access.scopes, rolePermissions: p.membership.permissions, patientId: p.access.patientId }, type, interaction);
      if (!decision.allowed) throw forbidden(`Access denied: ${decision.reason ?? 'not permitted'}`);
      return decision;
    },
    step: async (facts, work, opts) => {
      const mark = p.queued.length;
      try {
        const value = opts.savepoint ? await p.trx.transaction((sp) => work(makeTx({ ...p, trx: sp }))) : await work(tx);
        return { value };
      } catch (err) {
        const refusal = asRefusal(err);
        if (!refusal) throw err;
        // What the step did is undone: its successes are not recorded, its refusals and its own are.
        const kept = p.queued.splice(mark).filter(isRefusal);
        p.queued.push(...kept, refusalFacts({ ...facts, roleName: facts.roleName ?? p.membership.role }, err, p.membership.role));
        if (!opts.savepoint) throw refusal;
        return { error: refusal };
      }
    },
  };
  return tx;
}
