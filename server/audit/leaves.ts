import type { Knex } from 'knex';
import { CANONICAL_COLUMNS } from './canonical';

const PAGE = 5000;
const COLUMNS = CANONICAL_COLUMNS.map((c) => `a.${c}`).join(', ');

/**
 * A leaf of a clinic's chain, unpacked from its block (migration 037), with the audit row it seals:
 * `seq`, `audit_id`, `leaf_time` and `leaf_hash` from the block; `row_hash` and the canonical
 * columns from the row, all null when the row is gone.
 */
export type SealedLeaf = Record<string, unknown> & { seq: number; audit_id: string; leaf_time: Date; leaf_hash: Buffer };

/**
 * The leaves with sequence numbers in (after, through], in chain order, read a window of
 * sequence numbers at a time from the blocks that hold them: a gap (a block removed) shows as a
 * jump in `seq`, however long it is. `$verify` and retention walk the chain with it.
 */
export async function* sealedLeaves(trx: Knex.Transaction, clinicId: string, after: number, through: number): AsyncGenerator<SealedLeaf> {
  for (let at = after; at < through; at += PAGE) {
    const { rows } = await trx.raw(`select b.first_seq + u.n - 1 as seq, u.id as audit_id, u.t as leaf_time, u.h as leaf_hash, a.hash as row_hash, ${COLUMNS}
        from audit_seal_block b cross join lateral unnest(b.ids, b.times, b.hashes) with ordinality u(id, t, h, n)
        left join audit_event a on a.clinic_id = b.clinic_id and a.id = u.id and a.last_updated = u.t
       where b.clinic_id = ? and b.last_seq > ? and b.first_seq <= ? and b.first_seq + u.n - 1 > ? and b.first_seq + u.n - 1 <= ?
       order by 1`, [clinicId, at, at + PAGE, at, Math.min(at + PAGE, through)]);
    for (const r of rows as Array<Record<string, unknown>>) yield { ...r, seq: Number(r.seq) } as SealedLeaf;
  }
}
