/** The largest document this server stores, raw or inline (10 MB). */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
import type { ResourceDefinition } from './types';

/** A body that carries a 10 MB document as base64 (4/3 larger), plus room for the rest of the resource. */
export const INLINE_DOCUMENT_BODY_BYTES = Math.ceil(MAX_UPLOAD_BYTES / 3) * 4 + 256 * 1024;

const AUTHOR_TARGETS = ['Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson', 'Device'];

/** DocumentReference: in the compartment of its subject when that is a Patient. */
export const DocumentReferenceDefinition: ResourceDefinition = {
  type: 'DocumentReference',
  table: 'document_reference',
  compartment: { paths: ['subject'] },
  // Binary (a document's content) is guarded by the same keys: upload = create, download = view.
  permission: 'clinical.documents',
  storesAttachments: true,
  bodyLimitBytes: INLINE_DOCUMENT_BODY_BYTES,
  interactions: ['read', 'vread', 'history-instance', 'history-type', 'search', 'create', 'update', 'patch', 'delete'],
  profile: 'https://fhir.clinic.example/StructureDefinition/clinic-documentreference',
  search: [
    { name: 'identifier', type: 'token', paths: ['masterIdentifier', 'identifier'], description: 'Master Version Specific Identifier or another identifier of the document' },
    { name: 'patient', type: 'reference', paths: ['subject'], targets: ['Patient'], description: 'Who/what is the subject of the document (a patient)' },
    { name: 'subject', type: 'reference', paths: ['subject'], targets: ['Patient', 'Practitioner', 'Group', 'Device'], description: 'Who/what is the subject of the document' },
    { name: 'type', type: 'token', paths: ['type'], description: 'Kind of document (LOINC if possible)' },
    { name: 'category', type: 'token', paths: ['category'], description: 'Categorization of document' },
    { name: 'date', type: 'date', paths: ['date'], description: 'When this document reference was created' },
    { name: 'status', type: 'token', paths: ['status'], system: 'http://hl7.org/fhir/document-reference-status', description: 'current | superseded | entered-in-error' },
    { name: 'author', type: 'reference', paths: ['author'], targets: AUTHOR_TARGETS, description: 'Who and/or what authored the document' },
    { name: 'contenttype', type: 'token', paths: ['content.attachment.contentType'], system: 'urn:ietf:bcp:13', description: 'Mime type of the content, with charset etc.' },
    { name: 'period', type: 'date', paths: ['context.period'], description: 'Time of service that is being documented' },
  ],
};
