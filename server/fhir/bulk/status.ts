import type { AccessContext } from '../../auth/access-context';
import { notFound, serviceUnavailable } from '../../http/errors';
import { audited } from '../../pipeline/audited';
import { callerFacts, type FhirResult } from '../interaction';
import { deleteJob, type ExportJob, finishJob, readJob } from './jobs';
import { exportCompartment, statusUrl } from './kickoff';
import { type BulkDeps, type ExportRunner, STALE_SECONDS } from './runner';

const noSuchJob = () => notFound('No such export job');

/** When a finished job's files go (BULK_EXPORT_TTL_HOURS after it finished); undefined while it runs. */
export function expiresAt(deps: BulkDeps, job: ExportJob): Date | undefined {
  return job.finishedAt ? new Date(job.finishedAt.getTime() + deps.cfg.bulkExportTtlHours * 3_600_000) : undefined;
}

/** An expired job answers as gone even before the sweep (expiry.ts) has removed it. */
function requireUnexpired(deps: BulkDeps, job: ExportJob): void {
  const at = expiresAt(deps, job);
  if (at && at.getTime() <= Date.now()) throw notFound(`This export expired at ${at.toISOString()}: start it again`);
}

/** The Bulk Data manifest of a completed job (IG 2.0): every file with its type, url and count. */
function manifest(deps: BulkDeps, job: ExportJob): string {
  return JSON.stringify({
    transactionTime: job.transactionTime.toISOString(),
    request: job.request,
    requiresAccessToken: true,
    output: job.output.map((f) => ({ type: f.type, url: `${deps.cfg.fhirBaseUrl}/$export-file/${job.id}/${f.fileId}`, count: f.count })),
    error: [],
  });
}

const stale = (job: ExportJob) => Date.now() - job.heartbeatAt.getTime() > STALE_SECONDS * 1000;

/**
 * Polling the status URL: 202 with X-Progress while the job runs, 200 with the manifest once done,
 * a 500 OperationOutcome saying why when it failed. A job this process does not run and that has
 * not moved for STALE_SECONDS was interrupted (another node's restart): it is marked failed here.
 */
export async function poll(deps: BulkDeps, runner: ExportRunner, access: AccessContext, jobId: string): Promise<FhirResult> {
  const facts = { ...callerFacts(access, 'export-status', 'R'), query: statusUrl(deps, jobId) };
  return audited(deps.db, access, facts, { compartmentPatientId: exportCompartment(access) }, async (tx): Promise<FhirResult> => {
    const job = await readJob(tx.trx, jobId);
    if (!job || job.status === 'cancelled') throw noSuchJob();
    requireUnexpired(deps, job);
    if (job.status === 'running' && !runner.isRunning(job.id) && stale(job)) {
      await finishJob(tx.trx, job.id, 'failed', 'The export was interrupted: start it again');
      return failedAnswer(['The export was interrupted: start it again']);
    }
    if (job.status === 'running') {
      return { status: 202, headers: { 'X-Progress': job.progress || 'starting', 'Retry-After': '2' } };
    }
    if (job.status === 'failed') return failedAnswer(job.error);
    // Expires (IG 2.0): when the files stop being served, the same on every poll.
    const expires = expiresAt(deps, job);
    return { status: 200, body: manifest(deps, job), headers: { 'Content-Type': 'application/json', ...(expires ? { Expires: expires.toUTCString() } : {}) } };
  });
}

function failedAnswer(errors: string[]): FhirResult {
  const issue = (errors.length ? errors : ['The export failed']).map((diagnostics) => ({ severity: 'error', code: 'exception', diagnostics }));
  return { status: 500, body: JSON.stringify({ resourceType: 'OperationOutcome', issue }) };
}

/** DELETE on the status URL: the job is cancelled (a running one stops at its next page) and its files removed. */
export async function cancel(deps: BulkDeps, access: AccessContext, jobId: string): Promise<FhirResult> {
  const facts = { ...callerFacts(access, 'export-cancel', 'D'), query: statusUrl(deps, jobId) };
  const job = await audited(deps.db, access, facts, { compartmentPatientId: exportCompartment(access) }, async (tx) => {
    const found = await readJob(tx.trx, jobId, { forUpdate: true });
    if (!found || found.status === 'cancelled') throw noSuchJob();
    // A running job's own runner removes what it wrote, then the row; any other job goes now.
    if (found.status === 'running') await finishJob(tx.trx, found.id, 'cancelled');
    else await deleteJob(tx.trx, found.id);
    tx.audit({ ...facts, outcomeDesc: `export ${found.status === 'running' ? 'cancelled' : 'removed'} with ${found.output.length} files` });
    return found;
  });
  // What the row lists and what the store holds (a file written while the DELETE ran): both go.
  const stored = await deps.files?.list(job.clinicId, job.id) ?? [];
  for (const id of new Set([...job.output.map((f) => f.fileId), ...stored])) await deps.files?.remove(job.clinicId, job.id, id);
  return { status: 202 };
}

/** One file of a completed export, for its owner: audited, then streamed from the store. */
export async function openFile(deps: BulkDeps, access: AccessContext, jobId: string, fileId: string): Promise<NodeJS.ReadableStream> {
  const facts = { ...callerFacts(access, 'export-download', 'R'), query: `${deps.cfg.fhirBaseUrl}/$export-file/${jobId}/${fileId}` };
  const compartment = exportCompartment(access);
  return audited(deps.db, access, facts, { compartmentPatientId: compartment }, async (tx) => {
    const job = await readJob(tx.trx, jobId);
    if (!job || job.status !== 'completed') throw noSuchJob();
    requireUnexpired(deps, job);
    const file = job.output.find((f) => f.fileId === fileId);
    if (!file) throw notFound('No such export file');
    if (!deps.files) throw serviceUnavailable('Export storage is unavailable: retry later');
    // Opened inside the transaction: a file the store lost is a 404 or 503, recorded as such, never a success.
    const stream = await deps.files.get(job.clinicId, job.id, file.fileId);
    tx.audit({ ...facts, resourceType: file.type, patientIds: compartment ? [compartment] : undefined, outcomeDesc: `${file.count} ${file.type} resources of export ${job.id}` });
    return stream;
  });
}
