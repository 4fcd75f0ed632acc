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
  /** The statement whose rows answer the request: literal values only (simple protocol), or prepared on the connection. */
  statement: string | PreparedSql;
  /**
   * The INSERT of its AuditEvent, written only when the access succeeded, or that INSERT prepared
   * on the connection (preparedAuditInsertFrom); none when the statement writes it itself.
   */
  audit?: string | PreparedSql;
  /**
   * Run the prepared statement on its generic plan (plan_cache_mode, for this transaction only):
   * planned once per connection instead of on every request. For a search's page and its audit
   * row: PostgreSQL's automatic choice kept planning each one, and broad and narrow searches
   * measured as fast or within noise on the generic plan (README, Benchmark).
   */
  genericPlan?: boolean;
}

/**
 * How many statements each connection keeps prepared; the least recently used is deallocated first.
 * A generic plan is not small: an AuditEvent search's held 0.7 MB in its backend (measured with
 * pg_backend_memory_contexts), so the pool's connections together hold at most about
 * DB_POOL_MAX × 32 × 0.7 MB, and far less for reads (one audit INSERT per type) and Patient searches.
 */
export const PREPARED_PER_CONNECTION = 32;

/** The statements each pooled connection has prepared, least recently used first (a connection the pool replaces starts empty). */
const preparedOn = new WeakMap<object, Map<string, true>>();

/** Statements PostgreSQL refused to prepare: requests of their shape take the full path without trying again. */
const unpreparable = new Set<string>();

/** Prepares `p` on `conn` the first time this connection runs it: one extra round trip per connection and statement. */
export async function ensurePrepared(conn: { query(text: string): Promise<unknown> }, p: PreparedSql): Promise<void> {
  let names = preparedOn.get(conn);
  if (!names) preparedOn.set(conn, names = new Map());
  if (names.delete(p.name)) { names.set(p.name, true); return; }
  const evict = names.size >= PREPARED_PER_CONNECTION ? names.keys().next().value : undefined;
  if (evict !== undefined) names.delete(evict);
  try {
    await conn.query(evict === undefined ? p.prepare : `deallocate ${evict}; ${p.prepare}`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // Already prepared (a name is a hash of the statement's text): the same statement.
    if (code !== '42P05') {
      // A statement PostgreSQL cannot prepare (a parameter whose type it cannot infer): never again in this process.
      if (code?.startsWith('42')) unpreparable.add(p.name);
      throw err;
    }
  }
  names.set(p.name, true);
}

const nameOf = (s: string | PreparedSql | undefined) => (s !== undefined && typeof s !== 'string' ? s.name : undefined);

/**
 * Sends `begin` (checkedBeginSql: BEGIN and the checked context, two statements), the plan's
 * statement and audit insert, and COMMIT as one message, preparing either first where it is a
 * prepared statement; answers the statement's rows.
 */
export async function sendOneTrip<T>(conn: { query(text: string): Promise<unknown> }, begin: string, p: OneTripPlan): Promise<T[]> {
  const texts = [begin];
  if (p.genericPlan) texts.push('set local plan_cache_mode = force_generic_plan');
  const at = texts.length + 1;
  for (const s of [p.statement, p.audit]) {
    if (s === undefined) continue;
    if (typeof s === 'string') { texts.push(s); continue; }
    await ensurePrepared(conn, s);
    texts.push(s.execute);
  }
  texts.push('COMMIT');
  const results = await conn.query(texts.join('; ')) as unknown as pg.QueryResult[];
  return results[at].rows as T[];
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
  if (!p || [nameOf(p.statement), nameOf(p.audit)].some((n) => n !== undefined && unpreparable.has(n))) return undefined;
  const jti = access.revocable && access.tokenId ? access.tokenId : null;
  const { client } = db as unknown as KnexPool;
  const conn = await client.acquireConnection();
  try {
    return await sendOneTrip<T>(conn, checkedBeginSql(access.clinicId, access.userId, compartmentPatientId ?? null, jti, membership.stamp), p);
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
