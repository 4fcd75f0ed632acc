import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { ADMIN_ROLE, KEEPER_ROLE } from '../../db/roles';
import { canonicalAuditRow, jcs } from './canonical';
import { sealedLeaves } from './leaves';
import { type AnchorStore, archiveKey, retentionKey } from './sealer';
import { CHAIN_START, chainNext, type SealKey } from './seal-key';

export interface RetentionCut { clinicId: string; throughSeq: number; removedRows: number; exportKey: string }

const PAGE = 5000;

/**
 * Retention: a clinic keeps its audit trail `audit_retention_years` (default 6, at least 1). What
 * is older leaves only from the start of its chain, and only behind a signed record: the rows are
 * exported as NDJSON (sequence, hash and canonical row per line) to the object store, the chain's
 * head where the kept trail begins is signed and anchored, and then rows and leaves are removed.
 * `$verify` starts from the newest record, so removed rows are not reported as missing, while a
 * row removed any other way still is.
 */
export async function applyRetention(adminUrl: string, key: SealKey, store: AnchorStore, now = new Date()): Promise<RetentionCut[]> {
  const db = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  try {
    const clinics = await db.transaction(async (trx) => {
      await trx.raw(`set local role ${ADMIN_ROLE}`);
      return trx('clinic').select('id', 'audit_retention_years') as Promise<Array<{ id: string; audit_retention_years: number }>>;
    });
    const cuts: RetentionCut[] = [];
    for (const c of clinics) {
      const cutoff = new Date(now);
      cutoff.setUTCFullYear(cutoff.getUTCFullYear() - c.audit_retention_years);
      const cut = await cutClinic(db, key, store, c.id, cutoff);
      if (cut) cuts.push(cut);
    }
    return cuts;
  } finally {
    await db.destroy();
  }
}

async function cutClinic(db: Knex, key: SealKey, store: AnchorStore, clinicId: string, cutoff: Date): Promise<RetentionCut | undefined> {
  return db.transaction(async (trx) => {
    await trx.raw(`set local role ${KEEPER_ROLE}`);
    // Only a prefix of the chain goes, in whole blocks: every block before the first one that holds a
    // row still inside the retention period.
    const { rows: [b] } = await trx.raw(`select
        (select coalesce(max(through_seq), 0) from audit_retention_cut where clinic_id = ?)::text as done,
        (select min(first_seq) from audit_seal_block where clinic_id = ? and max_time >= ?)::text as first_kept,
        (select max(last_seq) from audit_seal_block where clinic_id = ?)::text as last`, [clinicId, clinicId, cutoff, clinicId]);
    const done = Number(b.done);
    const through = b.first_kept !== null ? Number(b.first_kept) - 1 : b.last !== null ? Number(b.last) : 0;
    if (through <= done) return undefined;

    // The head at `done` (the previous cut's, or the chain's start), then every leaf up to `through`.
    const prev = done ? await trx('audit_retention_cut').where({ clinic_id: clinicId, through_seq: done }).first('head') : undefined;
    let head: Buffer = prev ? prev.head as Buffer : CHAIN_START;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'audit-archive-')), 'rows.ndjson');
    const out = fs.createWriteStream(file);
    const sha = crypto.createHash('sha256');
    const ids: Array<{ id: string; last_updated: Date }> = [];
    let removed = 0;
    try {
      for await (const r of sealedLeaves(trx, clinicId, done, through)) {
        head = chainNext(head, r.leaf_hash);
        const line = `{"seq":${r.seq},"hash":"${r.leaf_hash.toString('hex')}","row":${r.id === null ? 'null' : canonicalAuditRow(r)}}\n`;
        sha.update(line);
        if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
        ids.push({ id: r.audit_id, last_updated: r.leaf_time });
        if (r.id !== null) removed += 1;
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      const exportKey = archiveKey(clinicId, through);
      await store.putFile(exportKey, file);
      const statement = jcs({
        kind: 'clinic-fhir audit retention v1', clinic: clinicId, throughSeq: through, head: head.toString('hex'),
        removedRows: removed, before: cutoff.toISOString(), export: exportKey, exportSha256: sha.digest('hex'), keyId: key.keyId,
      });
      const signature = key.sign(statement);
      await store.put(retentionKey(clinicId, through), JSON.stringify({ statement, signature: signature.toString('base64'), keyId: key.keyId }));
      await trx('audit_retention_cut').insert({
        clinic_id: clinicId, through_seq: through, head, removed_rows: removed, export_key: exportKey, statement, signature, key_id: key.keyId,
      });
      await trx.raw(`select set_config('app.audit_retention', 'on', true)`);
      for (let i = 0; i < ids.length; i += PAGE) {
        const page = ids.slice(i, i + PAGE);
        const values = page.map((r) => `('${r.id}'::uuid, '${r.last_updated.toISOString()}'::timestamptz)`).join(', ');
        await trx.raw(`delete from audit_event_patient p using (values ${values}) v(id, t) where p.clinic_id = ? and p.id = v.id and p.last_updated = v.t`, [clinicId]);
        await trx.raw(`delete from audit_event a using (values ${values}) v(id, t) where a.clinic_id = ? and a.id = v.id and a.last_updated = v.t`, [clinicId]);
      }
      await trx.raw('delete from audit_seal_block where clinic_id = ? and last_seq <= ?', [clinicId, through]);
      return { clinicId, throughSeq: through, removedRows: removed, exportKey };
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
}
