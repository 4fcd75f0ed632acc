import type { Knex } from 'knex';
import type { ClinicScope } from '../fhir/interaction';
import { logger as rootLogger, type Logger } from '../http/logger';
import { knownKeys } from './binary-table';
import type { DocumentService } from './service';

/**
 * Objects whose Binary row never committed must not stay in the bucket. Two nets:
 * - after each request transaction, the keys it uploaded are checked against document_binary and
 *   the ones without a row are removed (a rolled-back write, a failed savepoint or Bundle entry);
 * - the sweeper removes objects older than N minutes without a row (a crash between the two steps,
 *   or a store that was down when the removal was tried). The age keeps it off in-flight uploads.
 */

const BATCH = 500;
const pendingByScope = new WeakMap<object, string[]>();

/** Remembers an upload of this request; after the transaction ends it is kept only if its row committed. */
export function trackUpload(scope: Pick<ClinicScope, 'afterEnd' | 'deps'>, documents: DocumentService, key: string): void {
  const after = scope.afterEnd;
  if (!after) return; // no end-of-transaction hook here: the sweeper is the only net
  let keys = pendingByScope.get(after);
  if (!keys) {
    const list: string[] = [];
    keys = list;
    pendingByScope.set(after, list);
    after.push(async () => { await removeUncommitted(scope.deps.db, documents, list); });
  }
  keys.push(key);
}

/** Removes those of `keys` that have no document_binary row; returns how many went. */
export async function removeUncommitted(db: Knex, documents: DocumentService, keys: readonly string[], log: Logger = rootLogger): Promise<number> {
  let removed = 0;
  for (let i = 0; i < keys.length; i += BATCH) {
    const batch = keys.slice(i, i + BATCH);
    const known = await knownKeys(db, batch);
    for (const key of batch.filter((k) => !known.has(k))) {
      try {
        await documents.remove(key);
        removed++;
      } catch (err) {
        // Left for the sweeper; the key itself is not logged, it carries a patient id.
        log.warn({ status: (err as { status?: number }).status }, 'removing an uncommitted upload failed');
      }
    }
  }
  return removed;
}

export interface SweepResult { checked: number; orphans: number; removed: number }

/** Removes objects older than `olderThanMinutes` that no Binary row names, in batches. */
export async function sweepOrphans(
  db: Knex, documents: DocumentService, opts: { olderThanMinutes: number; now?: Date; log?: Logger },
): Promise<SweepResult> {
  const log = opts.log ?? rootLogger.child({ component: 'document-sweeper' });
  const cutoff = (opts.now ?? new Date()).getTime() - opts.olderThanMinutes * 60_000;
  const result: SweepResult = { checked: 0, orphans: 0, removed: 0 };
  const flush = async (batch: string[]) => {
    const known = await knownKeys(db, batch);
    const orphans = batch.filter((k) => !known.has(k));
    result.orphans += orphans.length;
    result.removed += await removeUncommitted(db, documents, orphans, log);
  };
  let batch: string[] = [];
  for await (const item of documents.store.listAllClinics()) {
    result.checked++;
    if (item.lastModified.getTime() > cutoff) continue;
    batch.push(item.key);
    if (batch.length >= BATCH) { await flush(batch); batch = []; }
  }
  if (batch.length) await flush(batch);
  if (result.orphans) log.info(result, 'document sweep removed orphaned objects');
  return result;
}
