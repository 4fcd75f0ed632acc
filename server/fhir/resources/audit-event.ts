import { AUTH_SUBTYPES, REST_INTERACTION_SYSTEM, renderAuditEventJson } from '../../audit/render';
import type { AuditRecord } from '../../audit/record';
import type { ResourceDefinition } from './types';

const ET = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
/** The entries a token search column holds for a coding: `code`, `system|code`, `system|`. */
const token = (system: string, code: string) => `array[${code}, ${q(`${system}|`)} || ${code}, ${q(`${system}|`)}]`;
const whenSet = (col: string, expr: string) => `case when ${col} is null then null else ${expr} end`;
const authSubtype = `case {t}.subtype ${Object.entries(AUTH_SUBTYPES).map(([k, c]) => `when ${q(k)} then ${token(c.system as string, q(c.code as string))}`).join(' ')} else null end`;
/** A reference as `Type/id` and `id`, as a search column holds it. */
const refs = (arr: string) => `coalesce((select array_agg(x) from unnest(${arr}) r, lateral (values (r), (split_part(r, '/', 2))) v(x)), '{}')`;

/**
 * AuditEvent: written by the server only; compliance officers read and search it. Stored as typed
 * columns (migration 028, server/audit/record.ts) and rendered as BALP on every read; its search
 * parameters name those columns: patient and agent through btree lookups, the rest as filters.
 */
export const AuditEventDefinition: ResourceDefinition = {
  type: 'AuditEvent',
  table: 'audit_event',
  compartment: { paths: ['entity.what'] },
  permission: 'compliance.auditEvents',
  interactions: ['read', 'search'],
  serverWritten: true,
  partitionedBy: 'last_updated',
  rowStore: {
    columns: ['{t}.*'],
    render: (row) => renderAuditEventJson(row as unknown as AuditRecord),
  },
  search: [
    { name: 'date', type: 'date', paths: ['recorded'], column: 'last_updated', description: 'Time when the event was recorded' },
    {
      name: 'agent', type: 'reference', paths: ['agent.who'], description: 'Identifier of who (fhirUser reference, user id or client id)',
      lookups: [{ table: 'audit_event', column: 'user_id' }, { table: 'audit_event', column: 'client_id' }, { table: 'audit_event', column: 'fhir_user' }],
    },
    {
      name: 'entity', type: 'reference', paths: ['entity.what'], description: 'Specific instance of resource',
      expr: `array_remove(array[{t}.entity_type || '/' || {t}.entity_id, {t}.entity_id, {t}.detail->>'tokenId', {t}.detail->>'grant', {t}.request_id], null)`
        + ` || ${refs('{t}.related')} || ${refs(`array(select 'Patient/' || p from unnest(coalesce({t}.patient_ids, array[{t}.patient_id])) p)`)}`,
    },
    {
      name: 'patient', type: 'reference', paths: ['entity.what'], targets: ['Patient'], description: 'Identity of the patient the event is about',
      lookups: [
        { table: 'audit_event', column: 'patient_id', prefix: 'Patient/', uuid: true },
        { table: 'audit_event_patient', column: 'patient_id', prefix: 'Patient/', uuid: true },
      ],
    },
    { name: 'action', type: 'token', paths: ['action'], system: 'http://hl7.org/fhir/audit-event-action', description: 'Type of action performed during the event', expr: token('http://hl7.org/fhir/audit-event-action', '{t}.action') },
    {
      name: 'type', type: 'token', paths: ['type'], description: 'Type/identifier of event',
      expr: `case when {t}.type = 'rest' then ${token(EVENT_TYPE, q('rest'))} when {t}.type = 'security' or {t}.subtype = 'lockout' then ${token(DCM, q('110113'))} else ${token(DCM, q('110114'))} end`,
    },
    {
      name: 'subtype', type: 'token', paths: ['subtype'], description: 'More specific type/id for the event',
      expr: `case when {t}.type = 'rest' then ${token(REST_INTERACTION_SYSTEM, '{t}.subtype')} when {t}.type = 'security' then ${token(DCM, '{t}.subtype')} else ${authSubtype} end`,
    },
    { name: 'outcome', type: 'token', paths: ['outcome'], system: 'http://hl7.org/fhir/audit-event-outcome', description: 'Whether the event succeeded or failed', expr: token('http://hl7.org/fhir/audit-event-outcome', '{t}.outcome') },
    // The observer is named by display only: no reference to match (as before the typed columns).
    { name: 'source', type: 'reference', paths: ['source.observer'], description: 'The identity of source detecting the event', expr: `'{}'::text[]` },
    {
      name: 'entity-type', type: 'token', paths: ['entity.type'], description: 'Type of entity involved',
      expr: `case when {t}.entity_type is not null or {t}.related is not null or {t}.query is not null or {t}.detail is not null then ${token(ET, q('2'))} else '{}' end`
        + ` || case when {t}.patient_id is not null or {t}.patient_ids is not null then ${token(ET, q('1'))} else '{}' end`
        + ` || case when {t}.request_id is not null then ${token('https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', q('XrequestId'))} else '{}' end`,
    },
    { name: 'agent-role', type: 'token', paths: ['agent.role'], description: 'Agent role in the event', expr: whenSet('{t}.role', token('urn:clinic-fhir:role', '{t}.role')) },
  ],
};
