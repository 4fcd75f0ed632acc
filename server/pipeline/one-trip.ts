import type { Knex } from 'knex';
import type pg from 'pg';
import type { AccessContext, Membership } from '../auth/access-context';
import { authorize, type FhirInteraction } from '../auth/authorize';
import type { PreparedSql } from '../audit/writer';
import { currentRequest } from '../http/request-context';
import { cachedMembership, checkedBeginSql, forgetMembership } from '../tenancy/with-clinic';

/**
 * Whether the cached role plainly grants `interaction` on `type` in this transaction's compartment:
 * no refusal, no granular scope to apply, no other compartment. Anything else takes the full path.
 */
export function plainlyGranted(access: AccessContext, membership: Membership, type: string, interaction: FhirInteraction, compartment: string | undefined): boolean {
  const d = authorize({ scopes: access.scopes, rolePermissions: membership.permissions, patientId: access.patientId }, type, interaction);
  return d.allowed && !d.constraints && d.compartmentPatientId === compartment;
}

/** A request that fits in one message: its statement and the audit row that records it. */
export interface OneTripPlan {
  /** The statement whose rows answer the request (literal values only: simple protocol). */
  statement: string;
  /**
   * The INSERT of its AuditEvent, written only when the access succeeded, or that INSERT prepared
   * on the connection (preparedAuditInsertFrom); none when the statement writes it itself.
   */
  audit?: string | PreparedSql;
}

/** The statements each pooled connection has prepared (a connection the pool replaces starts empty). */
const preparedOn = new WeakMap<object, Set<string>>();

/** Prepares `p` on `conn` the first time this connection runs it: one extra round trip per connection and statement. */
export async function ensurePrepared(conn: { query(text: string): Promise<unknown> }, p: PreparedSql): Promise<void> {
  let names = preparedOn.get(conn);
  if (!names) preparedOn.set(conn, names = new Set());
  if (names.has(p.name)) return;
  try {
    await conn.query(p.prepare);
  } catch (err) {
    // Already prepared (a name is a hash of the statement's text): the same statement.
    if ((err as { code?: string }).code !== '42P05') throw err;
  }
  names.add(p.name);
}

interface KnexPool {
  client: { acquireConnection(): Promise<pg.ClientBase>; releaseConnection(conn: pg.ClientBase): Promise<unknown> };
}

/**
 * The audited pipeline in ONE round trip, for a read whose decision the cached role already gives:
 * `BEGIN; app_begin_checked(...); statement; audit insert; COMMIT` travel as one message, so the
 * audit row commits with the data it records. Answers the statement's rows, or undefined when the
 * full path must run instead: no cached role, a decision `plan` declines, or any error (the
 * database refused the cached role as stale, a revoked token, a failed audit insert...), after
 * which the full path decides, refuses and audits exactly as it always does. Nothing was
 * committed then: the error aborted the message's transaction before its COMMIT (for a write,
 * only an error PostgreSQL answered is taken as that proof).
 */
export async function oneTrip<T>(
  db: Knex, access: AccessContext, compartmentPatientId: string | undefined, plan: (m: Membership) => OneTripPlan | undefined,
  opts: { writes?: boolean } = {},
): Promise<T[] | undefined> {
  const membership = cachedMembership(access.clinicId, access.userId);
  // A caller holding a break-glass grant takes the full path, which marks accesses under it BTG.
  if (!membership?.stamp || membership.grants?.length) return undefined;
  const p = plan(membership);
  if (!p) return undefined;
  const jti = access.revocable && access.tokenId ? access.tokenId : null;
  const { client } = db as unknown as KnexPool;
  const conn = await client.acquireConnection();
  try {
    let audit = p.audit;
    if (audit !== undefined && typeof audit !== 'string') {
      await ensurePrepared(conn, audit);
      audit = audit.execute;
    }
    const results = await conn.query(`${checkedBeginSql(access.clinicId, access.userId, compartmentPatientId ?? null, jti, membership.stamp)}; ${p.statement}; ${audit ? `${audit}; ` : ''}COMMIT`) as unknown as pg.QueryResult[];
    return results[2].rows as T[];
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    // A write may only be tried again when PostgreSQL answered with an error (nothing committed);
    // a connection lost mid-message leaves it unknown, and the error handler answers 503.
    if (opts.writes && typeof (err as { code?: unknown }).code !== 'string') throw err;
    if ((err as { code?: string }).code === 'CF001') forgetMembership(access.clinicId, access.userId);
    else currentRequest()?.log.debug({ code: (err as { code?: string }).code }, 'one-round-trip read fell back to the full path');
    return undefined;
  } finally {
    await client.releaseConnection(conn);
  }
}
