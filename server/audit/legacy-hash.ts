import crypto from 'node:crypto';
import knexFactory from 'knex';
import { KEEPER_ROLE } from '../../db/roles';
import { canonicalAuditRow } from './canonical';

/**
 * Rows written before the seal existed (migration 031) get the hash of their canonical form, once,
 * before the sealer starts: the trigger lets a NULL hash be set and nothing else. The sealer never
 * passes a row without a hash, so none is sealed unhashed.
 */
export async function hashRowsWrittenBeforeSealing(adminUrl: string): Promise<number> {
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  let done = 0;
  try {
    for (;;) {
      const n = await admin.transaction(async (trx) => {
        await trx.raw(`set local role ${KEEPER_ROLE}`);
        const { rows } = await trx.raw<{ rows: Array<Record<string, unknown>> }>('select * from audit_event where hash is null order by id limit 5000');
        if (!rows.length) return 0;
        const values = rows.map((r) => `('${r.id}'::uuid, '${r.clinic_id}'::uuid, '\\x${crypto.createHash('sha256').update(canonicalAuditRow(r), 'utf8').digest('hex')}'::bytea)`);
        await trx.raw(`update audit_event a set hash = v.h, tx = coalesce(a.tx, '1'::xid8) from (values ${values.join(', ')}) v(id, clinic_id, h)
                        where a.clinic_id = v.clinic_id and a.id = v.id`);
        return rows.length;
      });
      if (!n) return done;
      done += n;
    }
  } finally {
    await admin.destroy();
  }
}
