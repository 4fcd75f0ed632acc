import crypto from 'node:crypto';

/** What happened, in the terms an IHE BALP AuditEvent records. */
export interface AuditFacts {
  interaction: string;              // FHIR restful interaction (read, search-type, ...) or, for `type: 'auth'`, the sign-in step
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  outcome: '0' | '4' | '8';         // success, minor failure (refusal, not found, bad request), serious failure
  outcomeDesc?: string;
  /** `rest` (the default): a FHIR interaction; `auth`: an authorization-server event (DCM 110114 / 110113). */
  type?: AuditType;
  clinicId: string | null;
  userId?: string;
  fhirUser?: string;
  clientId?: string;
  roleName?: string;
  sourceIp?: string;
  resourceType?: string;
  resourceId?: string;
  versionId?: string;
  patientIds?: string[];
  query?: string;                   // the search's query string, base64 in entity.query as BALP asks
  requestId?: string;
  /** Break-glass or other purpose of use, recorded on the user agent. */
  purposeOfUse?: string;
  /** Other resources the event concerns (`Type/id`), e.g. the DocumentReference whose Binary was linked. */
  related?: string[];
  /** Authorization-server events: the access token's jti and the granted (or requested) scopes. */
  tokenId?: string;
  scope?: string;
  /**
   * Named details of the event, rendered on its entity: a privileged change's `old` and `new` (canonical
   * JSON, secrets as "changed"), the CLI `operator` (rendered as the agent), a break-glass `grant`.
   */
  detail?: Record<string, string>;
}

/** `rest`: a FHIR interaction; `auth`: an authorization-server event; `security`: a DCM Security Alert (privileged change, emergency override) whose `interaction` is the DCM subtype code. */
export type AuditType = 'rest' | 'auth' | 'security';

/**
 * One audit_event row (migration 028): the facts as typed columns. This is the stored form; the
 * BALP AuditEvent is rendered from it (render.ts) and its canonical form hashed (canonical.ts).
 */
export interface AuditRecord {
  id: string;
  /** SERVER_EVENTS_CLINIC for events that name no clinic. */
  clinic_id: string;
  /** AuditEvent.recorded (and meta.lastUpdated); the partition key. */
  last_updated: string;
  type: AuditType;
  subtype: string;
  action: AuditFacts['action'];
  outcome: AuditFacts['outcome'];
  outcome_desc: string | null;
  user_id: string | null;
  fhir_user: string | null;
  client_id: string | null;
  role: string | null;
  source_ip: string | null;
  purpose_of_use: string | null;
  request_id: string | null;
  /** The one patient the event concerns (also the patient compartment RLS checks). */
  patient_id: string | null;
  /** Every patient, when more than one (also written to audit_event_patient). */
  patient_ids: string[] | null;
  entity_type: string | null;
  entity_id: string | null;
  entity_version: string | null;
  related: string[] | null;
  query: string | null;
  /** Authorization-server extras ({tokenId, scope}) and the event's named details (AuditFacts.detail). */
  detail: Record<string, string> | null;
  /** Rows written before migration 028: the AuditEvent as it was stored, answered unchanged. */
  legacy?: unknown;
}

/** Columns in insert order (the data generator and the insert statement share it). */
export const AUDIT_COLUMNS = [
  'id', 'clinic_id', 'last_updated', 'type', 'subtype', 'action', 'outcome', 'outcome_desc', 'user_id', 'fhir_user', 'client_id',
  'role', 'source_ip', 'purpose_of_use', 'request_id', 'patient_id', 'patient_ids', 'entity_type', 'entity_id', 'entity_version',
  'related', 'query', 'detail',
] as const satisfies ReadonlyArray<keyof AuditRecord>;

/**
 * A time-ordered UUID (version 7: 48 bits of milliseconds, then random): new rows land at the right
 * edge of the primary key instead of on a random page of it.
 */
export function uuidV7(ms = Date.now()): string {
  const b = crypto.randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The clinic of server-level events (a bad signature, an unknown account): no clinic's member can
 * read them (operators do, as the migration account), and the column stays NOT NULL, so every
 * audit row has its distribution key (Citus, README "Scale-out").
 */
export const SERVER_EVENTS_CLINIC = '00000000-0000-0000-0000-000000000000';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const orNull = <T>(v: T | undefined | ''): T | null => (v === undefined || v === '' ? null : v as T);

/** The row of one event, recorded at `now`. */
export function auditRecord(f: AuditFacts, now = new Date()): AuditRecord {
  // An event about a Patient resource is about that patient, even when it was refused before any row was read.
  const self = f.resourceType === 'Patient' && f.resourceId && UUID.test(f.resourceId) ? [f.resourceId] : [];
  const patients = [...new Set([...(f.patientIds ?? []), ...self])];
  const named = { ...(f.detail ?? {}), ...(f.tokenId ? { tokenId: f.tokenId } : {}), ...(f.scope ? { scope: f.scope.slice(0, 2000) } : {}) };
  const detail = Object.keys(named).length ? named : null;
  return {
    id: uuidV7(now.getTime()),
    clinic_id: f.clinicId ?? SERVER_EVENTS_CLINIC,
    last_updated: now.toISOString(),
    type: f.type ?? 'rest',
    subtype: f.interaction,
    action: f.action,
    outcome: f.outcome,
    outcome_desc: f.outcomeDesc ? f.outcomeDesc.slice(0, 500) : null,
    user_id: orNull(f.userId),
    fhir_user: orNull(f.fhirUser),
    client_id: orNull(f.clientId),
    role: orNull(f.roleName),
    source_ip: orNull(f.sourceIp),
    purpose_of_use: orNull(f.purposeOfUse),
    request_id: orNull(f.requestId),
    patient_id: patients.length === 1 ? patients[0] : null,
    patient_ids: patients.length > 1 ? patients : null,
    entity_type: orNull(f.resourceType),
    entity_id: f.resourceType ? orNull(f.resourceId) : null,
    entity_version: f.resourceType && f.resourceId ? orNull(f.versionId) : null,
    related: f.related?.length ? f.related : null,
    query: f.query ?? null,
    detail,
  };
}
