import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { AuditFacts } from '../../audit/record';
import type { AccessContext } from '../../auth/access-context';
import type { Config } from '../../config';
import { OperationOutcomeError } from '../../http/errors';
import { logger } from '../../http/logger';
import { audited, type AuditedOptions } from '../../pipeline/audited';
import { callerFacts } from '../interaction';
import { hasPatientColumn, Repository, type StoredVersion } from '../repository';
import { definitionOf } from '../resources';
import type { ResourceDefinition } from '../resources/types';
import type { ExportFiles } from './files';
import { accessOf, appendOutput, beat, deleteJob, type ExportFile, type ExportJob, finishJob, readJob } from './jobs';
import { requireExport } from './may-export';

export interface BulkDeps {
  db: Knex;
  cfg: Config;
  /** The private object store; without it a kick-off answers 503. */
  files?: ExportFiles;
}

/** Rows read per transaction: a page is read, then the transaction ends, and the next resumes after its last id. */
const PAGE_ROWS = 500;
/** A file is cut here too, whatever BULK_FILE_ROWS says, so one file never holds more than this in memory. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;
/** Patients named in the completion AuditEvent of a patient-level export; past this, the count only. */
const MAX_AUDITED_PATIENTS = 1000;
/** A running job whose runner has not written for this long is taken as interrupted. */
export const STALE_SECONDS = 120;

const log = logger.child({ component: 'bulk-export' });

/** The rows of one page of `def`, after `after` in id order, as the job's filters select them. */
function pageQuery(repo: Repository, def: ResourceDefinition, job: ExportJob, after: string | undefined): Knex.QueryBuilder {
  const t = def.table;
  const q = repo.searchQuery().where(`${t}.last_updated`, '<=', job.transactionTime);
  if (job.since) q.where(`${t}.last_updated`, '>', job.since);
  // A patient-level export is the compartments of patients: rows that belong to one.
  if (job.level === 'patient' && hasPatientColumn(def)) q.whereNotNull(`${t}.patient_id`);
  if (after) q.where(`${t}.id`, '>', after);
  return q.orderBy(`${t}.id`, 'asc').limit(PAGE_ROWS);
}

/**
 * Runs export jobs in this process, in the background. Every page is read in its own audited
 * transaction of the exporting principal (RLS, role tree and compartment decide again each time);
 * rows go to a file buffer that is written to the store and dropped once it holds BULK_FILE_ROWS.
 */
export class ExportRunner {
  private readonly active = new Map<string, Promise<void>>();

  constructor(private readonly deps: BulkDeps) {}

  isRunning(jobId: string): boolean {
    return this.active.has(jobId);
  }

  start(job: ExportJob): void {
    const run = new JobRun(this.deps, job).run()
      .catch((err) => log.error({ err, job: job.id }, 'export job ended with an error'))
      .finally(() => this.active.delete(job.id));
    this.active.set(job.id, run);
  }

  /** Resolves once every job this process runs has ended. */
  async idle(): Promise<void> {
    while (this.active.size) await Promise.all([...this.active.values()]);
  }
}

class JobRun {
  private readonly access: AccessContext;
  private readonly facts: AuditFacts;
  private readonly opts: AuditedOptions;
  private readonly written: ExportFile[] = [];
  private readonly counts = new Map<string, number>();
  private readonly patients = new Set<string>();
  private patientsOverflow = false;

  constructor(private readonly deps: BulkDeps, private readonly job: ExportJob) {
    this.access = accessOf(job);
    this.facts = { ...callerFacts(this.access, 'export', 'E'), query: job.request };
    this.opts = { compartmentPatientId: job.compartmentPatientId ?? undefined };
  }

  private tx<T>(work: Parameters<typeof audited<T>>[4], facts = this.facts): Promise<T> {
    return audited(this.deps.db, this.access, facts, this.opts, work);
  }

  async run(): Promise<void> {
    try {
      for (const type of this.job.types) {
        const def = definitionOf(type);
        if (!def) throw new Error('an export job names a type this server no longer serves');
        if (!await this.exportType(def)) return this.cancelled();
      }
      if (!await this.complete()) return this.cancelled();
    } catch (err) {
      await this.failed(err);
    }
  }

  /** Streams one type to files; false when the job was cancelled meanwhile. */
  private async exportType(def: ResourceDefinition): Promise<boolean> {
    const fileRows = this.deps.cfg.bulkFileRows;
    let lines: string[] = [];
    let bytes = 0;
    let after: string | undefined;
    for (;;) {
      const rows = await this.tx(async (tx): Promise<StoredVersion[] | null> => {
        const now = await readJob(tx.trx, this.job.id);
        if (!now || now.status !== 'running') return null;
        requireExport(tx.access, tx.membership, def, this.opts.compartmentPatientId);
        const repo = new Repository(def, tx.trx, { sql: tx.sql });
        const page = await repo.runSearch(pageQuery(repo, def, this.job, after));
        await beat(tx.trx, this.job.id, this.progress(def, page.length));
        return page;
      });
      if (rows === null) return false;
      for (const r of rows) {
        lines.push(r.resource);
        bytes += r.resource.length + 1;
        this.notePatient(r.patientId);
        if (lines.length >= fileRows || bytes >= MAX_FILE_BYTES) {
          await this.writeFile(def, lines);
          lines = [];
          bytes = 0;
        }
      }
      if (rows.length < PAGE_ROWS) break;
      after = rows[rows.length - 1].id;
    }
    if (lines.length) await this.writeFile(def, lines);
    return true;
  }

  private async writeFile(def: ResourceDefinition, lines: string[]): Promise<void> {
    const { files } = this.deps;
    if (!files) throw new Error('export files have nowhere to go');
    const file: ExportFile = { type: def.type, fileId: randomUUID(), count: lines.length };
    await files.put(this.job.clinicId, this.job.id, file.fileId, Buffer.from(`${lines.join('\n')}\n`));
    this.written.push(file);
    await this.tx((tx) => appendOutput(tx.trx, this.job.id, file));
  }

  private notePatient(id: string | null): void {
    if (this.job.level !== 'patient' || !id || this.patientsOverflow) return;
    this.patients.add(id);
    if (this.patients.size > MAX_AUDITED_PATIENTS) { this.patients.clear(); this.patientsOverflow = true; }
  }

  private progress(def: ResourceDefinition, page: number): string {
    this.counts.set(def.type, (this.counts.get(def.type) ?? 0) + page);
    const i = this.job.types.indexOf(def.type) + 1;
    return `type ${i} of ${this.job.types.length} (${def.type}): ${this.counts.get(def.type)} resources`;
  }

  /** The completion: the job row says done and the AuditEvent names what left (counts, patients). */
  private complete(): Promise<boolean> {
    const counts = this.job.types.map((t) => `${t}: ${this.written.filter((f) => f.type === t).reduce((n, f) => n + f.count, 0)}`).join(', ');
    const patients = this.job.compartmentPatientId ? [this.job.compartmentPatientId] : [...this.patients];
    const facts: AuditFacts = {
      ...callerFacts(this.access, 'export-complete', 'E'), query: this.job.request, patientIds: patients,
      outcomeDesc: `exported ${counts} in ${this.written.length} files${this.patientsOverflow ? `; more than ${MAX_AUDITED_PATIENTS} patients, not listed` : ''}`,
    };
    return this.tx(async (tx) => {
      const now = await readJob(tx.trx, this.job.id, { forUpdate: true });
      if (!now || now.status !== 'running') return false;
      await finishJob(tx.trx, this.job.id, 'completed');
      tx.audit(facts);
      return true;
    }, facts);
  }

  /** Cancelled by its owner (DELETE): the files written so far go, then the row. */
  private async cancelled(): Promise<void> {
    await this.removeFiles();
    await this.tx((tx) => deleteJob(tx.trx, this.job.id)).catch((err) => log.error({ err, job: this.job.id }, 'removing a cancelled export failed'));
  }

  /** A refusal or failure part-way: nothing is left in the store, and polling reports why. */
  private async failed(err: unknown): Promise<void> {
    if (!(err instanceof OperationOutcomeError)) log.error({ err, job: this.job.id }, 'export job failed');
    await this.removeFiles();
    const reason = err instanceof OperationOutcomeError && err.status < 500 ? err.message : 'The export failed on the server';
    await this.tx(async (tx) => {
      const now = await readJob(tx.trx, this.job.id, { forUpdate: true });
      if (now?.status === 'running') await finishJob(tx.trx, this.job.id, 'failed', reason);
      else if (now?.status === 'cancelled') await deleteJob(tx.trx, this.job.id);
    }).catch((e) => log.error({ err: e, job: this.job.id }, 'marking an export failed did not work'));
  }

  private async removeFiles(): Promise<void> {
    const { files } = this.deps;
    for (const f of this.written) {
      await files?.remove(this.job.clinicId, this.job.id, f.fileId).catch((err) => log.warn({ err, job: this.job.id }, 'removing an export file failed'));
    }
  }
}
