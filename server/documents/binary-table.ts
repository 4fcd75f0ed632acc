import type { Knex } from 'knex';
import { withClinic } from '../tenancy/with-clinic';
import type { AllowedContentType } from './upload-checks';

/**
 * document_binary rows (migration 007): one per stored object. Every function but knownKeys runs
 * in the caller's RLS transaction, so another clinic's (or, for patient/ tokens, another patient's)
 * Binary is indistinguishable from a missing one.
 */

export interface BinaryRow {
  id: string;
  patientId: string;
  documentId: string | null;
  key: string;
  contentType: AllowedContentType;
  size: number;
  sha1: string;
  ownerId: string | null;
  createdAt: string;
}

interface DbRow {
  id: string; patient_id: string; document_id: string | null; object_key: string; content_type: AllowedContentType;
  size: number; sha1: string; owner_id: string | null; created_at: Date;
}

const toRow = (r: DbRow): BinaryRow => ({
  id: r.id, patientId: r.patient_id, documentId: r.document_id, key: r.object_key, contentType: r.content_type,
  size: r.size, sha1: r.sha1, ownerId: r.owner_id, createdAt: r.created_at.toISOString(),
});

export const TABLE = 'document_binary';

export async function insertBinary(trx: Knex.Transaction, row: Omit<BinaryRow, 'createdAt'>): Promise<BinaryRow> {
  const [inserted] = await trx(TABLE).insert({
    id: row.id,
    clinic_id: trx.raw('app_clinic_id()'),
    patient_id: row.patientId,
    document_id: row.documentId,
    object_key: row.key,
    content_type: row.contentType,
    size: row.size,
    sha1: row.sha1,
    owner_id: row.ownerId,
  }).returning('*') as DbRow[];
  return toRow(inserted);
}

export async function binariesById(trx: Knex.Transaction, ids: readonly string[]): Promise<Map<string, BinaryRow>> {
  if (!ids.length) return new Map();
  const rows = await trx(TABLE).select('*').whereRaw('id = any(?::uuid[])', [[...new Set(ids)]]) as DbRow[];
  return new Map(rows.map((r) => [r.id, toRow(r)]));
}

/** Binds an unattached Binary to a DocumentReference; false when another document already holds it. */
export async function attachBinary(trx: Knex.Transaction, id: string, documentId: string): Promise<boolean> {
  const n = await trx(TABLE).where({ id }).andWhere((q) => q.whereNull('document_id').orWhere('document_id', documentId))
    .update({ document_id: documentId });
  return n === 1;
}

/** Which of these DocumentReferences are deleted now (their Binaries get no links). */
export async function deletedDocuments(trx: Knex.Transaction, ids: readonly string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await trx('document_reference').select(trx.raw('id::text as id'))
    .whereRaw('id = any(?::uuid[])', [[...new Set(ids)]]).andWhere('deleted', true) as Array<{ id: string }>;
  return new Set(rows.map((r) => r.id));
}

/**
 * The keys that have a row, in any clinic: only for the orphan sweep and post-request cleanup,
 * through a function that answers nothing but that (see migration 007).
 */
export async function knownKeys(db: Knex, keys: readonly string[]): Promise<Set<string>> {
  if (!keys.length) return new Set();
  return withClinic(db, { clinicId: '', userId: '' }, async ({ trx }) => {
    const { rows } = await trx.raw<{ rows: Array<{ key: string }> }>(
      'select k as key from document_binary_keys_known(?::text[]) as k', [[...keys]]);
    return new Set(rows.map((r) => r.key));
  });
}
