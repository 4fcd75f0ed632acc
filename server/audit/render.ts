import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from 'fhir/r4';
import { type AuditFacts, auditRecord, type AuditRecord, SERVER_EVENTS_CLINIC } from './record';

export const SERVER_NAME = 'clinic-fhir-server';
const USER_SYSTEM = 'urn:clinic-fhir:user';
const CLIENT_SYSTEM = 'urn:clinic-fhir:client';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const REST_INTERACTION_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
export const OAUTH_EVENT_SYSTEM = 'urn:clinic-fhir:oauth';
const BALP = 'https://profiles.ihe.net/ITI/BALP';

const PROFILE_OF: Record<string, string> = {
  C: `${BALP}/StructureDefinition/IHE.BasicAudit.Create`,
  R: `${BALP}/StructureDefinition/IHE.BasicAudit.Read`,
  U: `${BALP}/StructureDefinition/IHE.BasicAudit.Update`,
  D: `${BALP}/StructureDefinition/IHE.BasicAudit.Delete`,
  E: `${BALP}/StructureDefinition/IHE.BasicAudit.Query`,
};

export const REST_TYPE: Coding = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' };
export const USER_AUTHENTICATION: Coding = { system: DCM, code: '110114', display: 'User Authentication' };
export const SECURITY_ALERT: Coding = { system: DCM, code: '110113', display: 'Security Alert' };

/** The DCM Security Alert subtypes of `security` events: privileged changes and emergency overrides. */
export const SECURITY_SUBTYPES: Readonly<Record<string, Coding>> = {
  '110127': { system: DCM, code: '110127', display: 'Emergency Override Started' },
  '110131': { system: DCM, code: '110131', display: 'Software Configuration' },
  '110136': { system: DCM, code: '110136', display: 'Security Roles Changed' },
  '110137': { system: DCM, code: '110137', display: 'User Security Attributes Changed' },
  '110138': { system: DCM, code: '110138', display: 'Emergency Override Stopped' },
};
export const DCM_SYSTEM = DCM;
/** Identifier systems of the server's own objects a security event can name (`urn:clinic-fhir:Role`...). */
const OBJECT_SYSTEM = 'urn:clinic-fhir:';
/** Detail keys rendered elsewhere than as entity.detail entries. */
const NOT_ENTITY_DETAIL = new Set(['tokenId', 'scope', 'operator', 'grant']);

/** The subtypes of authorization-server events (type `auth`). */
export const AUTH_SUBTYPES: Readonly<Record<string, Coding>> = {
  login: { system: DCM, code: '110122', display: 'Login' },
  logout: { system: DCM, code: '110123', display: 'Logout' },
  lockout: { system: OAUTH_EVENT_SYSTEM, code: 'lockout', display: 'Account or address locked out' },
  authorize: { system: OAUTH_EVENT_SYSTEM, code: 'authorize', display: 'Authorization request' },
  token: { system: OAUTH_EVENT_SYSTEM, code: 'token', display: 'Access token issued' },
  refresh: { system: OAUTH_EVENT_SYSTEM, code: 'refresh', display: 'Access token refreshed' },
  revoke: { system: OAUTH_EVENT_SYSTEM, code: 'revoke', display: 'Token revoked' },
  introspect: { system: OAUTH_EVENT_SYSTEM, code: 'introspect', display: 'Token introspected' },
};

/** The event type and subtype codings of a row. */
export function codingsOf(r: Pick<AuditRecord, 'type' | 'subtype'>): { type: Coding; subtype: Coding } {
  if (r.type === 'security') return { type: SECURITY_ALERT, subtype: SECURITY_SUBTYPES[r.subtype] ?? { system: DCM, code: r.subtype } };
  if (r.type === 'auth') {
    return { type: r.subtype === 'lockout' ? SECURITY_ALERT : USER_AUTHENTICATION, subtype: AUTH_SUBTYPES[r.subtype] ?? { system: OAUTH_EVENT_SYSTEM, code: r.subtype } };
  }
  return { type: REST_TYPE, subtype: { system: REST_INTERACTION_SYSTEM, code: r.subtype } };
}

const systemObject = { system: ENTITY_TYPE, code: '2', display: 'System Object' };
const domainResource = { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' };

function agents(r: AuditRecord): AuditEventAgent[] {
  const list: AuditEventAgent[] = [];
  const network = r.source_ip ? { network: { address: r.source_ip, type: '2' as const } } : {};
  if (r.user_id || r.fhir_user) {
    list.push({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
      ...(r.role ? { role: [{ coding: [{ system: 'urn:clinic-fhir:role', code: r.role }] }] } : {}),
      who: r.fhir_user ? { reference: r.fhir_user, identifier: { system: USER_SYSTEM, value: r.user_id ?? undefined } } : { identifier: { system: USER_SYSTEM, value: r.user_id ?? undefined } },
      ...(r.user_id ? { altId: r.user_id } : {}),
      requestor: true,
      ...network,
      ...(r.purpose_of_use ? { purposeOfUse: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: r.purpose_of_use }] }] } : {}),
    });
  }
  if (r.client_id) {
    list.push({
      type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
      who: { identifier: { system: CLIENT_SYSTEM, value: r.client_id } },
      requestor: false,
    });
  }
  if (list.length === 0 && r.detail?.operator) {
    // A change made with the admin CLI: the operator (OS user@host, or the --actor given).
    list.push({ type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] }, who: { display: r.detail.operator }, requestor: true, ...network });
  }
  if (list.length === 0) list.push({ who: { display: 'unauthenticated' }, requestor: true, ...network });
  return list;
}

/** The event's named details (a privileged change's old and new state...) as entity.detail entries. */
function namedDetail(r: AuditRecord): AuditEventEntity['detail'] {
  const d = Object.entries(r.detail ?? {}).filter(([k]) => !NOT_ENTITY_DETAIL.has(k));
  return d.length ? d.map(([type, valueString]) => ({ type, valueString })) : undefined;
}

/** The entities before the patients: the object, a break-glass grant, related resources, the query. */
function entitiesBeforePatients(r: AuditRecord): AuditEventEntity[] {
  const list: AuditEventEntity[] = [];
  const detail = namedDetail(r);
  if (r.type === 'security' && r.entity_type) {
    // The changed object is one of the server's own (a role, a user, a client...), not a FHIR resource.
    list.push({
      what: { identifier: { system: `${OBJECT_SYSTEM}${r.entity_type}`, value: r.entity_id ?? undefined }, display: r.entity_id ? `${r.entity_type}/${r.entity_id}` : r.entity_type },
      type: systemObject, role: { system: OBJECT_ROLE, code: '13', display: 'Security Resource' }, ...(detail ? { detail } : {}),
    });
  } else if (r.entity_type && r.entity_id) {
    const ref = `${r.entity_type}/${r.entity_id}${r.entity_version ? `/_history/${r.entity_version}` : ''}`;
    list.push({ what: { reference: ref }, type: systemObject, role: domainResource, ...(detail ? { detail } : {}) });
  } else if (r.entity_type) {
    list.push({ what: { display: r.entity_type }, type: { system: ENTITY_TYPE, code: '2' }, ...(detail ? { detail } : {}) });
  } else if (detail) {
    list.push({ type: systemObject, detail });
  }
  if (r.detail?.grant) {
    // Access under a break-glass grant names the grant.
    list.push({ what: { identifier: { system: `${OBJECT_SYSTEM}break-glass-grant`, value: r.detail.grant } }, type: systemObject, role: { system: OBJECT_ROLE, code: '13', display: 'Security Resource' } });
  }
  for (const ref of r.related ?? []) list.push({ what: { reference: ref }, type: systemObject, role: domainResource });
  if (r.query !== null) {
    list.push({ type: systemObject, role: { system: OBJECT_ROLE, code: '24', display: 'Query' }, query: Buffer.from(r.query).toString('base64') });
  }
  return list;
}

const patientsOf = (r: AuditRecord): readonly string[] => r.patient_ids ?? (r.patient_id ? [r.patient_id] : []);

const PATIENT_TYPE = { system: ENTITY_TYPE, code: '1', display: 'Person' };
const PATIENT_ROLE = { system: OBJECT_ROLE, code: '1', display: 'Patient' };
const patientEntity = (p: string): AuditEventEntity => ({ what: { reference: `Patient/${p}` }, type: PATIENT_TYPE, role: PATIENT_ROLE });
// A patient entity as JSON text around its id (a uuid: nothing to escape), exactly as JSON.stringify writes patientEntity.
const [PATIENT_JSON_HEAD, PATIENT_JSON_TAIL] = JSON.stringify(patientEntity('\u0000')).split('\\u0000');

function entities(r: AuditRecord): AuditEventEntity[] {
  return [...entitiesBeforePatients(r), ...patientsOf(r).map(patientEntity), ...entitiesAfterPatients(r)];
}

/** The entities after the patients: the token, the request. */
function entitiesAfterPatients(r: AuditRecord): AuditEventEntity[] {
  const list: AuditEventEntity[] = [];
  if (r.detail?.tokenId || r.detail?.scope) {
    const { tokenId, scope } = r.detail;
    list.push({
      ...(tokenId ? { what: { identifier: { system: 'urn:clinic-fhir:token', value: tokenId } } } : {}),
      type: systemObject,
      ...(scope ? { detail: [{ type: 'scope', valueString: scope }] } : {}),
    });
  }
  if (r.request_id) {
    // BALP's transaction entity: the X-Request-Id ties the event to the request's logs.
    list.push({ what: { identifier: { value: r.request_id } }, type: { system: `${BALP}/CodeSystem/BasicAuditEntityType`, code: 'XrequestId' } });
  }
  return list;
}

/** Everything of a row's AuditEvent but its entities (which renderAuditEvent writes last). */
function eventHead(r: AuditRecord): Omit<AuditEvent, 'entity'> & { id: string } {
  const recorded = new Date(r.last_updated).toISOString();
  const { type, subtype } = codingsOf(r);
  return {
    resourceType: 'AuditEvent',
    id: r.id,
    meta: { versionId: '1', lastUpdated: recorded, ...(r.type === 'rest' ? { profile: [PROFILE_OF[r.action]] } : {}) },
    type,
    subtype: [subtype],
    action: r.action,
    recorded,
    outcome: r.outcome,
    ...(r.outcome_desc ? { outcomeDesc: r.outcome_desc } : {}),
    agent: agents(r),
    source: {
      ...(r.clinic_id && r.clinic_id !== SERVER_EVENTS_CLINIC ? { site: r.clinic_id } : {}),
      observer: { display: SERVER_NAME },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
  };
}

/** The AuditEvent of a row (IHE BALP shape); rows from before migration 028 answer what they stored. */
export function renderAuditEvent(r: AuditRecord): AuditEvent & { id: string } {
  if (r.legacy) return r.legacy as AuditEvent & { id: string };
  return { ...eventHead(r), entity: entities(r) };
}

/**
 * JSON.stringify(renderAuditEvent(r)), written faster: an event about several patients (a search
 * page names each patient it showed) has an entity per patient, and those are written as text
 * around each id instead of through JSON.stringify. The AuditEvent search renders every row so.
 */
export function renderAuditEventJson(r: AuditRecord): string {
  if (r.legacy) return JSON.stringify(r.legacy);
  const patients = patientsOf(r);
  if (patients.length < 2) return JSON.stringify(renderAuditEvent(r));
  const parts = [
    ...entitiesBeforePatients(r).map((e) => JSON.stringify(e)),
    ...patients.map((p) => `${PATIENT_JSON_HEAD}${p}${PATIENT_JSON_TAIL}`),
    ...entitiesAfterPatients(r).map((e) => JSON.stringify(e)),
  ];
  return `${JSON.stringify(eventHead(r)).slice(0, -1)},"entity":[${parts.join(',')}]}`;
}

/** The AuditEvent an event's facts make, recorded at `now` (tests and the data generator). */
export function buildAuditEvent(f: AuditFacts, now = new Date()): AuditEvent & { id: string } {
  return renderAuditEvent(auditRecord(f, now));
}
