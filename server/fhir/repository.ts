import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { SqlExecutor } from '../../db/knex-client';
import { searchColumnName } from '../../db/resource-table';
import { definitionOf } from './resources';
import type { ResourceDefinition } from './resources/types';
import { assertReferencesResolve } from './references';
import { compartmentPatient, extractSearchColumns } from './search/extract';
import { isLabelled, securityLabelOf } from './security-label';

/** A stored version. `resource` is the JSON text as stored: returned without re-parsing. */
export interface StoredVersion {
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  resource: string;
  patientId: string | null;
}

interface Row { id: string; version_id: number; last_updated: Date; deleted: boolean; resource: string; patient_id: string | null }

const toVersion = (r: Row): StoredVersion => ({
  id: r.id,
  versionId: r.version_id,
  lastUpdated: r.last_updated.toISOString(),
  deleted: r.deleted,
  resource: r.resource,
  patientId: r.patient_id,
});

export type FhirResource = { resourceType: string; id?: string; meta?: Record<string, unknown> } & Record<string, unknown>;

/** The resource as stored: id and meta.versionId/lastUpdated set by the server. */
export function stampVersion(resource: FhirResource, id: string, versionId: number, lastUpdated: string): FhirResource {
  return { ...resource, id, meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated } };
}

/** The type's rows carry their compartment patient (Patient is its own; a type in no compartment has none). */
export const hasPatientColumn = (def: ResourceDefinition): boolean => def.compartment !== 'self' && 'paths' in def.compartment;

/** The columns of a current row (all but clinic_id, which RLS context supplies); the data generator writes the same. */
export function versionRow(def: ResourceDefinition, stored: FhirResource, deleted: boolean): { row: Record<string, unknown>; text: string; patientId: string | null } {
  const text = JSON.stringify(stored);
  const patientId = compartmentPatient(def, stored);
  const meta = stored.meta as { versionId: string; lastUpdated: string };
  const row: Record<string, unknown> = {
    id: stored.id, version_id: Number(meta.versionId), last_updated: meta.lastUpdated, deleted, resource: text,
  };
  if (hasPatientColumn(def)) row.patient_id = patientId;
  // Kept on a deletion too: a restricted record's deleted version stays restricted.
  if (isLabelled(def)) row.security_label = securityLabelOf(stored);
  return { row: { ...row, ...(deleted ? {} : extractSearchColumns(def, stored)) }, text, patientId };
}

/** Which versions a history asks for: `_since`, `_at` as a [from, to) span, and the page. */
export interface HistoryWindow { since?: Date; at?: [Date, Date]; count: number; offset: number }

/** Versions of several types in one statement, newest first (system history). */
export async function unionHistory(trx: Knex.Transaction, repos: Repository[], w: HistoryWindow): Promise<Array<StoredVersion & { type: string }>> {
  const [first, ...rest] = repos.map((r) => r.historyQuery(null, w, r.def.type));
  const rows = await first.unionAll(rest, true).orderBy('last_updated', 'desc').orderBy('type').orderBy('id').orderBy('version_id', 'desc')
    .limit(w.count).offset(w.offset) as Array<Row & { type: string }>;
  return rows.map((r) => ({ ...toVersion(r), type: r.type }));
}

/**
 * Rows of one resource type, inside the request's RLS transaction. Every method relies on RLS for
 * the clinic and the patient compartment; none takes a clinic id.
 */
export class Repository {
  /** `fhirBase` makes absolute references to this server count as local ones. */
  /** `beforeWrite` may rewrite each version before it is stored (documents: inline data becomes a stored object). */
  /** `sql` runs the statements straight on the transaction's connection (same SQL, without knex's runner). */
  constructor(readonly def: ResourceDefinition, private readonly trx: Knex.Transaction, private readonly opts: {
    fhirBase?: string;
    beforeWrite?: (resource: FhirResource, at: { id: string; previous?: StoredVersion }) => Promise<FhirResource>;
    sql?: SqlExecutor;
  } = {}) {}

  private async rows<T>(q: Knex.QueryBuilder): Promise<T[]> {
    return this.opts.sql ? this.opts.sql.rows<T>(q.toSQL().toNative()) : (await q) as T[];
  }

  private version(r: Row): StoredVersion {
    const store = this.def.rowStore;
    if (!store) return toVersion(r);
    return { id: r.id, versionId: 1, lastUpdated: new Date(r.last_updated).toISOString(), deleted: false, resource: store.render(r as unknown as Record<string, unknown>), patientId: r.patient_id };
  }

  private columns(table = this.def.table): string[] {
    if (this.def.rowStore) return this.def.rowStore.columns.map((c) => c.replace(/\{t\}/g, table));
    const patient = this.def.compartment === 'self' ? `${table}.id as patient_id` : hasPatientColumn(this.def) ? `${table}.patient_id` : 'null::uuid as patient_id';
    return [...['id', 'version_id', 'last_updated', 'deleted', 'resource::text as resource'].map((c) => `${table}.${c}`), patient];
  }

  async read(id: string, forUpdate = false): Promise<StoredVersion | null> {
    const q = this.trx(this.def.table).select(this.trx.raw(this.columns().join(', '))).where({ id }).limit(1);
    const [row] = await this.rows<Row>(forUpdate ? q.forUpdate() : q);
    return row ? this.version(row) : null;
  }

  async readVersion(id: string, versionId: number): Promise<StoredVersion | null> {
    const [row] = await this.rows<Row>(this.trx(`${this.def.table}_history`)
      .select(this.trx.raw(this.columns(`${this.def.table}_history`).join(', ')))
      .where({ id, version_id: versionId }).limit(1));
    return row ? toVersion(row) : null;
  }

  /** Writes a new version (1 for a create) to the current table and the history in one statement. */
  async write(resource: FhirResource, opts: { id?: string; previous?: StoredVersion; deleted?: boolean }): Promise<StoredVersion> {
    const id = opts.id ?? crypto.randomUUID();
    const versionId = (opts.previous?.versionId ?? 0) + 1;
    const lastUpdated = new Date().toISOString();
    let stored = stampVersion(resource, id, versionId, lastUpdated);
    // Every create, update and patch passes here: references must stay inside the clinic.
    if (!opts.deleted) await assertReferencesResolve(this.trx, this.def, stored, this.opts.fhirBase);
    if (!opts.deleted && this.opts.beforeWrite) stored = await this.opts.beforeWrite(stored, { id, previous: opts.previous });
    const { row, text, patientId } = versionRow(this.def, stored, opts.deleted ?? false);
    const current = { ...row, clinic_id: this.trx.raw('app_clinic_id()') };
    // A trigger appends the version to <table>_history in the same statement.
    if (opts.previous) await this.rows(this.trx(this.def.table).where({ id }).update(current));
    else await this.rows(this.trx(this.def.table).insert(current));
    return { id, versionId, lastUpdated, deleted: opts.deleted ?? false, resource: text, patientId };
  }

  /** Versions of this type (one id, or all) in a history window, newest first. */
  async history(id: string | null, w: HistoryWindow): Promise<StoredVersion[]> {
    const rows = await this.rows<Row>(this.historyQuery(id, w).orderBy('last_updated', 'desc').orderBy('version_id', 'desc').limit(w.count).offset(w.offset));
    return rows.map(toVersion);
  }

  /** The history rows of a window, unordered: `_since` on the version's time; `_at` keeps versions current at some moment of the span. */
  historyQuery(id: string | null, w: Pick<HistoryWindow, 'since' | 'at'>, type?: string): Knex.QueryBuilder {
    const t = `${this.def.table}_history`;
    const q = this.trx(t).select(this.trx.raw([...this.columns(t), ...(type ? [`'${type}'::text as type`] : [])].join(', ')));
    if (id) q.where(`${t}.id`, id);
    if (w.since) q.where(`${t}.last_updated`, '>=', w.since);
    if (w.at) {
      const [from, to] = w.at;
      q.where(`${t}.last_updated`, '<', to).whereNotExists((n) => n.from(`${t} as later`)
        .whereRaw(`later.id = ${t}.id and later.clinic_id = ${t}.clinic_id and later.version_id = ${t}.version_id + 1 and later.last_updated <= ?`, [from]));
    }
    return q;
  }
  /** A query over current, not deleted rows, for the search engine to add criteria to. */
  searchQuery(): Knex.QueryBuilder {
    return this.def.rowStore ? this.trx(this.def.table) : this.trx(this.def.table).where(`${this.def.table}.deleted`, false);
  }

  /** Narrows a query to one patient's compartment, as the RLS compartment policy would. */
  confineToCompartment(q: Knex.QueryBuilder, patientId: string): Knex.QueryBuilder {
    const c = this.def.compartment;
    if (c === 'self' || 'paths' in c) return q.where(`${this.def.table}.${c === 'self' ? 'id' : 'patient_id'}`, patientId);
    // In no compartment: the rows that patient's own record references (db/compartment.ts, for RLS).
    const patients = definitionOf(c.referencedFrom.type)?.table ?? 'patient';
    return q.whereRaw(`exists (select 1 from ${patients} r where r.id = ? and not r.deleted and r.${searchColumnName(c.referencedFrom.param)} @> array[? || ${this.def.table}.id::text])`,
      [patientId, `${this.def.type}/`]);
  }

  /** A search query with the select list of a version row: built here, run elsewhere (one round trip). */
  withVersionColumns(q: Knex.QueryBuilder): Knex.QueryBuilder {
    return q.clone().select(this.trx.raw(this.columns().join(', ')));
  }

  /** Stored versions of rows selected with withVersionColumns. */
  versionsOf(rows: readonly Record<string, unknown>[]): StoredVersion[] {
    return rows.map((r) => this.version(r as unknown as Row));
  }

  async runSearch(q: Knex.QueryBuilder): Promise<StoredVersion[]> {
    const rows = await this.rows<Row>(q.clone().select(this.trx.raw(this.columns().join(', '))));
    return rows.map((r) => this.version(r));
  }
}
