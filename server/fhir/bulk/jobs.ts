import type { Knex } from 'knex';
import { APP_ROLE } from '../../../db/roles';
import type { AccessContext } from '../../auth/access-context';
import { parseScopes } from '../../auth/scopes';
import { isUuid } from '../../http/ids';

/** One file of an export: its resource type, its id in the store, how many resources it holds. */
export interface ExportFile { type: string; fileId: string; count: number }

/** Who exports, as the kick-off token said: each page of the job is decided by it again. */
export interface Principal {
  scope: string;
  patientId?: string;
  clientId?: string;
  fhirUser?: string;
  tokenId?: string;
  revocable?: boolean;
}

export type JobStatus = 'running' | 'completed' | 'failed' | 'cancelled';

/** A row of bulk_export (migration 034), visible only to its owner in its clinic (RLS). */
export interface ExportJob {
  id: string;
  clinicId: string;
  ownerId: string;
  status: JobStatus;
  level: 'system' | 'patient';
  request: string;
  types: string[];
  since: Date | null;
  transactionTime: Date;
  compartmentPatientId: string | null;
  principal: Principal;
  output: ExportFile[];
  error: string[];
  progress: string;
  heartbeatAt: Date;
  /** When it completed or failed (null while it runs): it expires BULK_EXPORT_TTL_HOURS later. */
  finishedAt: Date | null;
}

interface Row {
  id: string; clinic_id: string; owner_id: string; status: JobStatus; level: 'system' | 'patient'; request: string; types: string[];
  since: Date | null; transaction_time: Date; compartment_patient_id: string | null; principal: Principal; output: ExportFile[];
  error: string[]; progress: string; heartbeat_at: Date; finished_at: Date | null;
}

const TABLE = 'bulk_export';

export function principalOf(access: AccessContext): Principal {
  return { scope: access.scopeText, patientId: access.patientId, clientId: access.clientId, fhirUser: access.fhirUser, tokenId: access.tokenId, revocable: access.revocable };
}

/** The access context a job's pages run under: the kick-off token's, as it was. */
export function accessOf(job: ExportJob): AccessContext {
  const p = job.principal;
  return {
    userId: job.ownerId, clinicId: job.clinicId, patientId: p.patientId, clientId: p.clientId, fhirUser: p.fhirUser,
    tokenId: p.tokenId, revocable: p.revocable, scopes: parseScopes(p.scope).resource, scopeText: p.scope,
  };
}

const toJob = (r: Row): ExportJob => ({
  id: r.id, clinicId: r.clinic_id, ownerId: r.owner_id, status: r.status, level: r.level, request: r.request, types: r.types,
  since: r.since, transactionTime: r.transaction_time, compartmentPatientId: r.compartment_patient_id, principal: r.principal,
  output: r.output, error: r.error, progress: r.progress, heartbeatAt: r.heartbeat_at, finishedAt: r.finished_at,
});

/** Stores a new running job; false when the same user already runs one (the partial unique index). */
export async function insertJob(trx: Knex.Transaction, job: Omit<ExportJob, 'status' | 'output' | 'error' | 'progress' | 'heartbeatAt' | 'finishedAt'>): Promise<boolean> {
  const { rows } = await trx.raw(`
    insert into ${TABLE} (id, clinic_id, owner_id, status, level, request, types, since, transaction_time, compartment_patient_id, principal)
    values (?, ?, ?, 'running', ?, ?, ?::text[], ?, ?, ?, ?::jsonb)
    on conflict (clinic_id, owner_id) where status = 'running' do nothing returning id`,
  [job.id, job.clinicId, job.ownerId, job.level, job.request, job.types, job.since, job.transactionTime, job.compartmentPatientId, JSON.stringify(job.principal)]) as { rows: unknown[] };
  return rows.length === 1;
}

/** The job, if this caller may see it (RLS); an id that is not a UUID names no job. */
export async function readJob(trx: Knex.Transaction, id: string, opts: { forUpdate?: boolean } = {}): Promise<ExportJob | null> {
  if (!isUuid(id)) return null;
  const q = trx(TABLE).select('*').where({ id }).first();
  const row = await (opts.forUpdate ? q.forUpdate() : q) as Row | undefined;
  return row ? toJob(row) : null;
}

/** Marks the job as alive, with what it has done so far. */
export async function beat(trx: Knex.Transaction, id: string, progress: string): Promise<void> {
  await trx(TABLE).where({ id }).update({ progress, heartbeat_at: trx.fn.now() });
}

export async function appendOutput(trx: Knex.Transaction, id: string, file: ExportFile): Promise<void> {
  await trx(TABLE).where({ id }).update({ output: trx.raw('output || ?::jsonb', [JSON.stringify([file])]), heartbeat_at: trx.fn.now() });
}

export async function finishJob(trx: Knex.Transaction, id: string, status: Exclude<JobStatus, 'running'>, error?: string): Promise<void> {
  await trx(TABLE).where({ id }).update({
    status, finished_at: trx.fn.now(), ...(error ? { error: trx.raw('error || ?::jsonb', [JSON.stringify([error])]) } : {}),
  });
}

export async function deleteJob(trx: Knex.Transaction, id: string): Promise<void> {
  await trx(TABLE).where({ id }).delete();
}

/** Marks failed every running job whose runner stopped beating `staleSeconds` ago (a restart): across clinics, through migration 034's function. */
export async function failInterruptedExports(db: Knex, staleSeconds: number): Promise<number> {
  return db.transaction(async (trx) => {
    await trx.raw('select set_config(\'role\', ?, true)', [APP_ROLE]);
    const { rows } = await trx.raw('select bulk_export_fail_interrupted(make_interval(secs => ?)) as n', [staleSeconds]) as { rows: Array<{ n: number }> };
    return rows[0].n;
  });
}
