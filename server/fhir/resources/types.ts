import type { SearchColumnType } from '../../../db/resource-table';
import type { FhirInteraction } from '../../auth/authorize';

export type SearchParamType = SearchColumnType;

/**
 * One search parameter: its type, and where its values sit in the resource. Paths are dotted
 * element names with arrays flattened; `telecom[system=phone]` keeps only matching items.
 */
export interface SearchParamDef {
  name: string;
  type: SearchParamType;
  paths: string[];
  /** reference: the resource types a bare id may name (the first is used for `param=id`). */
  targets?: string[];
  /** token on a `code` element: the implicit system of its value set. */
  system?: string;
  /** date: the value is always the row's last_updated (AuditEvent.recorded), so it is searched there (partition pruning). */
  column?: 'last_updated';
  description?: string;
  /**
   * token and reference parameters of a type stored as typed columns (see RowStore): an SQL
   * expression over the row (`{t}` is the table) giving the entries a search column would hold.
   */
  expr?: string;
  /**
   * reference parameters served by btree lookups on typed columns: rows whose (id, last_updated)
   * some lookup finds. `prefix` is stripped from each searched value; `uuid` keeps only ids.
   */
  lookups?: ReadonlyArray<{ table: string; column: string; prefix?: string; uuid?: boolean }>;
}

/** A type stored as typed columns instead of a resource document (AuditEvent): how a row reads back. */
export interface RowStore {
  /** The select list (`{t}` is the table); it must include id, last_updated and patient_id. */
  columns: readonly string[];
  /** The resource JSON text of one row. */
  render(row: Record<string, unknown>): string;
}

/** A resource type, described once; the generic engine serves everything else. */
export interface ResourceDefinition {
  type: string;
  table: string;
  /**
   * `self` for Patient; `{ paths }`: the reference paths whose `Patient/x` places a row in x's
   * compartment; `{ referencedFrom }`: in no compartment, and a patient/ token sees only the rows its
   * own Patient references through that search parameter (enforced by RLS, db/compartment.ts).
   */
  compartment: 'self' | { paths: string[] } | { referencedFrom: { type: 'Patient'; param: string } };
  /** Permission module (`area.resource`): its keys are `<module>.<action>`, one per action the interactions need. */
  permission: string;
  interactions: readonly FhirInteraction[];
  search: SearchParamDef[];
  /** The server writes this type itself (AuditEvent): no create/update/delete over REST. */
  serverWritten?: boolean;
  /** Only these parameters are in the type's search index table (default: every token, reference and string one). */
  indexedParams?: readonly string[];
  /** The table (and its search index) is partitioned by last_updated: index matches join on (id, last_updated). */
  partitionedBy?: 'last_updated';
  /** Stored as typed columns, read back through `rowStore` (no versions, no deleted flag). */
  rowStore?: RowStore;
  /** Canonical URL of our profile for this type, enforced on write. */
  profile?: string;
  /** Largest request body for this type's writes (and Bundles), when above the configured default. */
  bodyLimitBytes?: number;
  /** Inline attachment data goes to the document store on write (server/documents/hooks.ts). */
  storesAttachments?: boolean;
  /**
   * References to this type are stored without checking that they name a row: records written
   * before the type was served name ones that were never stored here.
   */
  referencesUnchecked?: boolean;
}
