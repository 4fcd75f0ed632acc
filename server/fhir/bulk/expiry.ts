import type { Knex } from 'knex';
import { sqlLiteral } from '../../../db/literal';
import { inAppRoleTransaction } from '../../../db/app-transaction';
import { auditInsertSql } from '../../audit/writer';
import type { ExportFile } from './jobs';
import type { ExportFiles } from './files';

/** How often each server process looks for expired exports. */
export const EXPORT_EXPIRY_SWEEP_MS = 600_000;

interface Expired { clinic_id: string; id: string; owner_id: string; status: string; output: ExportFile[]; finished_at: Date }

/**
 * Removes every export that finished more than `ttlHours` ago, across clinics (migration 038's
 * functions): its files leave the store first, then its row goes, with an AuditEvent in the job's
 * clinic (`export-expire`, naming the owner and how many files went). A store that cannot be
 * reached, or a file it fails to remove, leaves the job for the next sweep: no row is forgotten
 * while its files may remain. Polls and downloads answer 404 from the moment a job expires,
 * whether or not the sweep has run. Answers how many jobs it removed, and how many it had to keep
 * (with the first reason).
 */
export async function removeExpiredExports(db: Knex, files: ExportFiles | undefined, ttlHours: number, limit = 200): Promise<{ removed: number; kept: number; why?: unknown }> {
  if (!files) return { removed: 0, kept: 0 };
  const ttl = `make_interval(hours => ${Number(ttlHours)})`;
  const expired = await inAppRoleTransaction(db, async (conn) => (await conn.query<Expired>(`select * from bulk_export_expired(${ttl}, $1)`, [limit])).rows);
  let removed = 0;
  let kept = 0;
  let why: unknown;
  for (const job of expired) {
    try {
      const stored = await files.list(job.clinic_id, job.id);
      const ids = new Set([...job.output.map((f) => f.fileId), ...stored]);
      for (const fileId of ids) await files.remove(job.clinic_id, job.id, fileId);
      const forgotten = await inAppRoleTransaction(db, async (conn) => {
        const { rows } = await conn.query<{ done: boolean }>(`select bulk_export_forget($1, $2, ${ttl}) as done`, [job.clinic_id, job.id]);
        if (!rows[0].done) return false;
        // The audit row's insert policy checks the clinic it is recorded for.
        await conn.query(`select set_config('app.clinic_id', ${sqlLiteral(job.clinic_id)}, true); ${auditInsertSql({
          interaction: 'export-expire', action: 'D', outcome: '0', clinicId: job.clinic_id,
          outcomeDesc: `export ${job.id} (${job.status}) expired: ${ids.size} files removed`,
          detail: { owner: job.owner_id, finishedAt: new Date(job.finished_at).toISOString() },
        })}`);
        return true;
      });
      if (forgotten) removed += 1;
    } catch (err) {
      // The store refused a file, or the database is away: the job stays for the next sweep.
      kept += 1;
      why ??= err;
    }
  }
  return { removed, kept, why };
}
