import type { Knex } from 'knex';
import pg from 'pg';
import { beginWith, executorOn, type SqlExecutor } from '../../db/knex-client';
import { OperationOutcomeError } from '../http/errors';
import { isUuid } from '../http/ids';
import type { AccessContext, Membership } from '../auth/access-context';

export interface ClinicTx {
  trx: Knex.Transaction;
  /** NULL when the user has no active membership at the clinic: nothing in it is visible then. */
  membership: Membership | null;
  /** Queues a statement (literal values only) to run just before COMMIT, in the same round trip. */
  atCommit(sql: string): void;
  /** The same transaction, for the hot statements: straight on its connection, past knex. */
  sql: SqlExecutor;
}


/** The token was revoked before it expired: 401, like any other refused token (audited by the error handler). */
export class TokenRevokedError extends OperationOutcomeError {
  constructor() {
    super(401, { severity: 'error', code: 'login', diagnostics: 'Invalid bearer token: token revoked' }, { 'WWW-Authenticate': 'Bearer realm="fhir"' });
  }
}

const literal = (v: string | null) => (v === null ? 'null' : pg.escapeLiteral(v));

/**
 * The only way request code touches tenant tables: ONE transaction that first switches to the app
 * role and sets clinic, user and (for patient-compartment access) patient, in one statement, then
 * runs `work`, then commits. RLS decides every row from those settings.
 *
 * `BEGIN` and `app_begin` (which also checks that our own token was not revoked) go in one round
 * trip (a simple query: the values are literals, and the ids are checked UUIDs); statements queued with `atCommit`
 * (the request's AuditEvent) go in the COMMIT's.
 */
export async function withClinic<T>(
  db: Knex,
  who: Pick<AccessContext, 'clinicId' | 'userId' | 'tokenId' | 'revocable'> & { compartmentPatientId?: string | null },
  work: (tx: ClinicTx) => Promise<T>,
): Promise<T> {
  const clinic = isUuid(who.clinicId) ? who.clinicId : null;
  const user = isUuid(who.userId) ? who.userId : null;
  const patient = who.compartmentPatientId && isUuid(who.compartmentPatientId) ? who.compartmentPatientId : null;
  if (who.compartmentPatientId && !patient) {
    // A patient context that is not one of our ids can match nothing; never fall back to "no compartment".
    throw new Error('invalid patient compartment id');
  }
  const jti = who.revocable && who.tokenId ? who.tokenId : null;
  let membership: Membership | null = null;
  let revoked = false;
  let sql: SqlExecutor | undefined;
  const pending: string[] = [];
  return db.transaction(async (trx) => {
    if (!sql) throw new Error('withClinic needs the runtime pool of openDatabase (its client opens the transaction)');
    if (revoked) throw new TokenRevokedError();
    return work({ trx, membership, atCommit: (s) => { pending.push(s); }, sql });
  }, beginWith(async (run, conn) => {
    sql = executorOn(conn);
    const results = await run(beginSql(clinic, user, patient, jti)) as pg.QueryResult[];
    const ctx = results[1]?.rows[0]?.ctx as (Membership & { revoked?: boolean }) | null | undefined;
    revoked = ctx?.revoked === true;
    membership = ctx && !revoked ? ctx : null;
    remember(clinic, user, membership);
  }, () => (pending.length ? pending.join('; ') : undefined)));
}

/** The first round trip of a request transaction (the benchmark's floor sends the same). */
export function beginSql(clinic: string | null, user: string | null, patient: string | null, jti: string | null): string {
  // app_begin checks the revocation (as the login, before it switches to the app role), then sets the context.
  return `BEGIN; select app_begin(${literal(clinic)}::uuid, ${literal(user)}::uuid, ${literal(patient)}::uuid, ${literal(jti)}) as ctx`;
}

// The role each (clinic, user) had at their last request, per process: a guess that lets a read
// travel in one round trip (see pipeline/one-trip.ts); app_begin_checked refuses it once stale.
const MAX_CACHED = 10_000;
const memberships = new Map<string, Membership>();

function remember(clinic: string | null, user: string | null, m: Membership | null): void {
  if (!clinic || !user) return;
  const key = `${clinic}:${user}`;
  memberships.delete(key);
  if (!m?.stamp) return;
  if (memberships.size >= MAX_CACHED) memberships.delete(memberships.keys().next().value as string);
  memberships.set(key, m);
}

/** The membership last seen for this caller in this process, if any (a guess the database checks). */
export function cachedMembership(clinicId: string, userId: string): Membership | undefined {
  return memberships.get(`${clinicId}:${userId}`);
}

/** Drops a cached membership the database refused as stale. */
export function forgetMembership(clinicId: string, userId: string): void {
  memberships.delete(`${clinicId}:${userId}`);
}

/** The first statement of a one-round-trip request: the context, checked against the cached role (migration 029). */
export function checkedBeginSql(clinic: string, user: string, patient: string | null, jti: string | null, stamp: string): string {
  return `BEGIN; select app_begin_checked(${literal(clinic)}::uuid, ${literal(user)}::uuid, ${literal(patient)}::uuid, ${literal(jti)}, ${literal(stamp)})`;
}
