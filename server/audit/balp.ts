import crypto from 'node:crypto';
import type { AuditEvent, AuditEventAgent, AuditEventEntity } from 'fhir/r4';

/** What happened, in the terms an IHE BALP AuditEvent records. */
export interface AuditFacts {
  interaction: string;              // FHIR restful interaction: read, vread, search-type, create, ...
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  outcome: '0' | '4' | '8';         // success, minor failure (refusal, not found, bad request), serious failure
  outcomeDesc?: string;
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
}

export const SERVER_NAME = 'clinic-fhir-server';
const USER_SYSTEM = 'urn:clinic-fhir:user';
const CLIENT_SYSTEM = 'urn:clinic-fhir:client';

const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition';
const PROFILE_OF: Record<string, string> = {
  C: `${BALP}/IHE.BasicAudit.Create`,
  R: `${BALP}/IHE.BasicAudit.Read`,
  U: `${BALP}/IHE.BasicAudit.Update`,
  D: `${BALP}/IHE.BasicAudit.Delete`,
  E: `${BALP}/IHE.BasicAudit.Query`,
};

function agents(f: AuditFacts): AuditEventAgent[] {
  const list: AuditEventAgent[] = [];
  if (f.userId || f.fhirUser) {
    list.push({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
      ...(f.roleName ? { role: [{ coding: [{ system: 'urn:clinic-fhir:role', code: f.roleName }] }] } : {}),
      who: f.fhirUser ? { reference: f.fhirUser, identifier: { system: USER_SYSTEM, value: f.userId } } : { identifier: { system: USER_SYSTEM, value: f.userId } },
      ...(f.userId ? { altId: f.userId } : {}),
      requestor: true,
      ...(f.sourceIp ? { network: { address: f.sourceIp, type: '2' as const } } : {}),
      ...(f.purposeOfUse ? { purposeOfUse: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: f.purposeOfUse }] }] } : {}),
    });
  }
  if (f.clientId) {
    list.push({
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
      who: { identifier: { system: CLIENT_SYSTEM, value: f.clientId } },
      requestor: false,
    });
  }
  if (list.length === 0) {
    list.push({ who: { display: 'unauthenticated' }, requestor: true, ...(f.sourceIp ? { network: { address: f.sourceIp, type: '2' as const } } : {}) });
  }
  return list;
}

function entities(f: AuditFacts): AuditEventEntity[] {
  const list: AuditEventEntity[] = [];
  if (f.resourceType && f.resourceId) {
    const ref = `${f.resourceType}/${f.resourceId}${f.versionId ? `/_history/${f.versionId}` : ''}`;
    list.push({
      what: { reference: ref },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
    });
  } else if (f.resourceType) {
    list.push({ what: { display: f.resourceType }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' } });
  }
  for (const ref of f.related ?? []) {
    list.push({
      what: { reference: ref },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
    });
  }
  if (f.query !== undefined) {
    list.push({
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' },
      query: Buffer.from(f.query).toString('base64'),
    });
  }
  for (const p of new Set(f.patientIds ?? [])) {
    list.push({
      what: { reference: `Patient/${p}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  }
  return list;
}

/** Builds the AuditEvent of one interaction (IHE BALP shape: type rest, subtype the interaction). */
export function buildAuditEvent(f: AuditFacts, now = new Date()): AuditEvent & { id: string } {
  const id = crypto.randomUUID();
  return {
    resourceType: 'AuditEvent',
    id,
    meta: { versionId: '1', lastUpdated: now.toISOString(), profile: [PROFILE_OF[f.action]] },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: f.interaction }],
    action: f.action,
    recorded: now.toISOString(),
    outcome: f.outcome,
    ...(f.outcomeDesc ? { outcomeDesc: f.outcomeDesc.slice(0, 500) } : {}),
    agent: agents(f),
    source: {
      site: f.clinicId ?? undefined,
      observer: { display: SERVER_NAME },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity: entities(f),
  };
}
