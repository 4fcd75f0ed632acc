import type { Knex } from 'knex';
import { auditRowHash } from './canonical';
import { sealedLeaves } from './leaves';
import { type AnchoredCheckpoint, anchorPrefix, type AnchorStore } from './sealer';
import { CHAIN_START, chainNext, checkpointStatement, type SealKey } from './seal-key';

export type IssueKind = 'row-modified' | 'row-missing' | 'row-unexpected' | 'checkpoint-mismatch' | 'rollback';

export interface VerifyIssue {
  kind: IssueKind;
  /** The AuditEvent concerned, where there is one. */
  auditEventId?: string;
  message: string;
  /** Where in the chain (sequence number): orders the issues, the earliest first. */
  position: number;
}

export interface VerifyResult {
  result: 'valid' | 'invalid' | 'incomplete';
  checked: number;
  verifiedThrough?: string;
  sealLagSeconds: number;
  issues: VerifyIssue[];
  /** Why the answer is incomplete (rows not sealed yet, a checkpoint not anchored). */
  incomplete: string[];
}

interface Checkpoint { size: number; head: Buffer; sealedAt: Date; statement: string; signature: Buffer; keyId: string; anchored: boolean }

/**
 * Verifies a clinic's audit trail in [from, to] inside the caller's RLS transaction: every sealed
 * row against its hash and leaf, the chain against each signed checkpoint (signatures checked with
 * the key that never enters the database), the newest anchored checkpoint against the database's,
 * and rows the sealer has passed but which have no leaf.
 */
export async function verifyAuditTrail(trx: Knex.Transaction, clinicId: string, key: SealKey, anchors: AnchorStore | undefined,
  range: { from?: Date; to?: Date }): Promise<VerifyResult> {
  const issues: VerifyIssue[] = [];
  const incomplete: string[] = [];
  const cut = await retentionCut(trx, clinicId, key, issues);
  // The leaves in the range (found through the blocks whose times reach into it), widened to the signed checkpoints around them.
  const bounds = await trx.raw(`select min(b.first_seq + u.n - 1)::text as lo, max(b.first_seq + u.n - 1)::text as hi
      from audit_seal_block b cross join lateral unnest(b.times) with ordinality u(t, n)
     where b.clinic_id = ? and (?::timestamptz is null or (b.max_time >= ? and u.t >= ?)) and (?::timestamptz is null or (b.min_time <= ? and u.t <= ?))`,
  [clinicId, range.from ?? null, range.from ?? null, range.from ?? null, range.to ?? null, range.to ?? null, range.to ?? null]);
  // Rows retention removed (behind its signed record) are not looked for.
  const lo = bounds.rows[0].lo === null ? undefined : Math.max(Number(bounds.rows[0].lo), (cut?.size ?? 0) + 1);
  const hi = bounds.rows[0].hi === null ? undefined : Number(bounds.rows[0].hi);
  // Only the checkpoints around and inside the range, and the newest (a year holds many of them).
  const { rows: [w] } = await trx.raw(`select
      (select max(tree_size) from audit_checkpoint where clinic_id = ? and tree_size < ?)::text as a,
      (select min(tree_size) from audit_checkpoint where clinic_id = ? and tree_size >= ?)::text as b`, [clinicId, lo ?? 0, clinicId, hi ?? 0]);
  const checkpoints = lo === undefined ? [] : await loadCheckpoints(trx, clinicId, w.a === null ? 0 : Number(w.a), w.b === null ? Number.MAX_SAFE_INTEGER : Number(w.b));
  const newest = (await loadCheckpoints(trx, clinicId, 0, Number.MAX_SAFE_INTEGER, true))[0];
  for (const c of newest && !checkpoints.some((x) => x.size === newest.size) ? [...checkpoints, newest] : checkpoints) {
    const expected = checkpointStatement({ clinicId, treeSize: c.size, head: c.head, sealedAt: c.sealedAt.toISOString(), keyId: c.keyId });
    if (c.statement !== expected || c.keyId !== key.keyId || !key.verify(c.statement, c.signature)) {
      issues.push({ kind: 'checkpoint-mismatch', position: c.size, message: `checkpoint at size ${c.size} does not carry a valid signature of its content` });
    }
  }
  const dbSize = newest?.size ?? 0;
  await compareAnchors(trx, clinicId, key, anchors, dbSize, issues, incomplete);

  let checked = 0;
  let verifiedThrough: Date | undefined;
  if (lo !== undefined && hi !== undefined) {
    const before = [...checkpoints].reverse().find((c) => c.size < lo);
    const start = cut && (!before || before.size < cut.size) ? cut : before;
    const end = checkpoints.find((c) => c.size >= hi) ?? checkpoints[checkpoints.length - 1];
    const sizes = new Map(checkpoints.map((c) => [c.size, c]));
    let head = start?.head ?? CHAIN_START;
    let seq = start?.size ?? 0;
    const last = Math.max(end?.size ?? hi, hi);
    for await (const r of sealedLeaves(trx, clinicId, seq, last)) {
      const n = r.seq;
      if (n !== seq + 1) issues.push({ kind: 'row-missing', position: seq + 1, message: `the seal has no leaf ${seq + 1}..${n - 1}: sealed entries were removed` });
      seq = n;
      head = chainNext(head, r.leaf_hash);
      const id = r.audit_id;
      const inRange = n >= lo && n <= hi;
      if (inRange) {
        if (r.id === null) {
          issues.push({ kind: 'row-missing', auditEventId: id, position: n, message: `AuditEvent ${id} was sealed and is gone` });
        } else {
          const recomputed = auditRowHash(r);
          if (!recomputed.equals(r.leaf_hash) || !recomputed.equals((r.row_hash as Buffer | null) ?? Buffer.alloc(0))) {
            issues.push({ kind: 'row-modified', auditEventId: id, position: n, message: `AuditEvent ${id} differs from what was sealed` });
          }
        }
        checked += 1;
      }
      const cp = sizes.get(n);
      if (cp) {
        if (!cp.head.equals(head)) issues.push({ kind: 'checkpoint-mismatch', position: n, message: `the chain recomputed from the rows does not reach the signed checkpoint at size ${n}` });
        if (n >= hi || !verifiedThrough || cp.sealedAt > verifiedThrough) verifiedThrough = cp.sealedAt;
        if (!cp.anchored) incomplete.push(`checkpoint at size ${n} is not anchored outside the database yet`);
      }
    }
    if (seq < last) issues.push({ kind: 'row-missing', position: seq + 1, message: `the seal ends at ${seq}, its checkpoints at ${last}` });
  }

  // Rows of the range without a leaf: behind the sealer's cursor they were slipped in; ahead of it, not sealed yet.
  // A row's block covers its time, so the blocks reaching into the range hold every leaf a row of the range can have.
  const { rows: unsealed } = await trx.raw(`with sealed as materialized (
        select i.id from audit_seal_block b cross join lateral unnest(b.ids) i(id)
         where b.clinic_id = ? and (?::timestamptz is null or b.max_time >= ?) and (?::timestamptz is null or b.min_time <= ?))
      select a.id, a.last_updated, (a.tx < s.cursor_tx or (a.tx = s.cursor_tx and a.id <= s.cursor_id)) as behind
        from audit_event a cross join audit_seal_state s
       where a.clinic_id = ? and (?::timestamptz is null or a.last_updated >= ?) and (?::timestamptz is null or a.last_updated <= ?)
         and not exists (select 1 from sealed l where l.id = a.id)
       order by a.last_updated, a.id`, [clinicId, range.from ?? null, range.from ?? null, range.to ?? null, range.to ?? null,
    clinicId, range.from ?? null, range.from ?? null, range.to ?? null, range.to ?? null]);
  let oldestUnsealed: Date | undefined;
  for (const r of unsealed as Array<{ id: string; last_updated: Date; behind: boolean | null }>) {
    if (r.behind) issues.push({ kind: 'row-unexpected', auditEventId: r.id, position: hi ?? dbSize, message: `AuditEvent ${r.id} is not in the seal though the sealer has passed it` });
    else oldestUnsealed ??= r.last_updated;
  }
  if (oldestUnsealed) incomplete.push('the range holds rows not sealed yet');

  issues.sort((a, b) => a.position - b.position);
  return {
    result: issues.length ? 'invalid' : incomplete.length ? 'incomplete' : 'valid',
    checked,
    verifiedThrough: verifiedThrough?.toISOString(),
    sealLagSeconds: await sealLagSeconds(trx, clinicId),
    issues,
    incomplete,
  };
}

/** The seal lag of a clinic: the age of its oldest row the sealer has not passed yet (0 when none waits). */
export async function sealLagSeconds(trx: Knex.Transaction, clinicId: string): Promise<number> {
  const lag = await trx.raw(`select extract(epoch from now() - min(a.last_updated))::float8 as lag from audit_event a cross join audit_seal_state s
     where a.clinic_id = ? and a.last_updated > now() - interval '1 day' and (a.tx, a.id) > (s.cursor_tx, s.cursor_id)`, [clinicId]);
  return Math.max(0, Number(lag.rows[0]?.lag ?? 0));
}

/** The newest retention record, if its signature holds: the chain's head where the kept trail begins. */
async function retentionCut(trx: Knex.Transaction, clinicId: string, key: SealKey, issues: VerifyIssue[]): Promise<{ size: number; head: Buffer } | undefined> {
  const { rows } = await trx.raw(`select through_seq::text as size, head, statement, signature from audit_retention_cut
      where clinic_id = ? order by through_seq desc limit 1`, [clinicId]);
  const r = rows[0] as { size: string; head: Buffer; statement: string; signature: Buffer } | undefined;
  if (!r) return undefined;
  let facts: { clinic?: string; throughSeq?: number; head?: string } = {};
  try { facts = JSON.parse(r.statement); } catch { /* reported below */ }
  if (!key.verify(r.statement, r.signature) || facts.clinic !== clinicId || facts.throughSeq !== Number(r.size) || facts.head !== r.head.toString('hex')) {
    issues.push({ kind: 'checkpoint-mismatch', position: Number(r.size), message: `the retention record through ${r.size} carries no valid signature of its content` });
    return undefined;
  }
  return { size: Number(r.size), head: r.head };
}

async function loadCheckpoints(trx: Knex.Transaction, clinicId: string, from: number, to: number, newestOnly = false): Promise<Checkpoint[]> {
  const { rows } = await trx.raw(`select tree_size::text as size, head, sealed_at, statement, signature, key_id, anchored_at is not null as anchored
      from audit_checkpoint where clinic_id = ? and tree_size between ? and ?
      order by tree_size ${newestOnly ? 'desc limit 1' : ''}`, [clinicId, from, Math.min(to, Number.MAX_SAFE_INTEGER)]);
  return (rows as Array<Record<string, unknown>>).map((r) => ({
    size: Number(r.size), head: r.head as Buffer, sealedAt: r.sealed_at as Date, statement: r.statement as string,
    signature: r.signature as Buffer, keyId: r.key_id as string, anchored: r.anchored as boolean,
  }));
}

/** The newest anchored checkpoint must be one the database still holds, unchanged: else the database was rolled back or rewritten. */
async function compareAnchors(trx: Knex.Transaction, clinicId: string, key: SealKey, anchors: AnchorStore | undefined, dbSize: number,
  issues: VerifyIssue[], incomplete: string[]): Promise<void> {
  if (!anchors) {
    if (dbSize) incomplete.push('no object store to compare anchored checkpoints with');
    return;
  }
  let keys: string[];
  try {
    keys = await anchors.keys(anchorPrefix(clinicId));
  } catch {
    incomplete.push('the object store holding anchored checkpoints cannot be reached');
    return;
  }
  const newest = keys[keys.length - 1];
  if (!newest) return;
  let anchored: AnchoredCheckpoint;
  try {
    anchored = JSON.parse(await anchors.get(newest)) as AnchoredCheckpoint;
  } catch {
    incomplete.push('the newest anchored checkpoint cannot be read');
    return;
  }
  if (!key.verify(anchored.statement, Buffer.from(anchored.signature, 'base64'))) {
    issues.push({ kind: 'checkpoint-mismatch', position: 0, message: 'the newest anchored checkpoint carries no valid signature' });
    return;
  }
  const facts = JSON.parse(anchored.statement) as { size: number; head: string };
  if (facts.size > dbSize) {
    issues.push({ kind: 'rollback', position: dbSize + 1, message: `the database's seal ends at ${dbSize} rows, but ${facts.size} were sealed and anchored: the audit tables were rolled back` });
    return;
  }
  const [same] = await loadCheckpoints(trx, clinicId, facts.size, facts.size);
  if (!same || same.head.toString('hex') !== facts.head) {
    issues.push({ kind: 'checkpoint-mismatch', position: facts.size, message: `the database's checkpoint at size ${facts.size} differs from the anchored one` });
  }
}
