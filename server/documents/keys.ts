import { badRequest, forbidden } from '../http/errors';

/**
 * Object keys are chosen by the server only:
 *   clinics/{clinicId}/patients/{patientId}/{documentId}/{attachmentId}
 * Every segment is a lowercase UUID, so a valid key is plain ASCII with nothing to normalise.
 */

export interface DocumentKeyParts {
  clinicId: string;
  patientId: string;
  documentId: string;
  attachmentId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Anything outside this alphabet ('.', '%', '\', whitespace, any non-ASCII lookalike) can never be in a key.
const KEY_ALPHABET = /^[0-9a-z/-]+$/;
const KEY_SHAPE =
  /^clinics\/([0-9a-f-]{36})\/patients\/([0-9a-f-]{36})\/([0-9a-f-]{36})\/([0-9a-f-]{36})$/;
const MAX_KEY_LENGTH = 200;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Builds the key for one attachment; ids from outside are lowercased so one document has one key. */
export function documentKey(parts: DocumentKeyParts): string {
  const segments = [parts.clinicId, parts.patientId, parts.documentId, parts.attachmentId].map((id, i) => {
    if (typeof id !== 'string' || !UUID_ANY_CASE.test(id)) {
      throw badRequest(`${['clinicId', 'patientId', 'documentId', 'attachmentId'][i]} must be a UUID`);
    }
    return id.toLowerCase();
  });
  const [clinicId, patientId, documentId, attachmentId] = segments;
  return `clinics/${clinicId}/patients/${patientId}/${documentId}/${attachmentId}`;
}

/** Parses a key produced by documentKey(); returns undefined for anything else. */
export function parseDocumentKey(key: unknown): DocumentKeyParts | undefined {
  if (typeof key !== 'string' || key.length > MAX_KEY_LENGTH || !KEY_ALPHABET.test(key)) return undefined;
  const m = KEY_SHAPE.exec(key);
  if (!m) return undefined;
  const [, clinicId, patientId, documentId, attachmentId] = m;
  if (![clinicId, patientId, documentId, attachmentId].every(isUuid)) return undefined;
  return { clinicId, patientId, documentId, attachmentId };
}

/** For store operations: any key the server would not have produced is a bug or an attack. */
export function assertValidKey(key: unknown): asserts key is string {
  if (!parseDocumentKey(key)) throw badRequest('Invalid document storage key');
}

/**
 * App-layer tenant guard: the key must be exactly a server-shaped key under clinics/{clinicId}/.
 * Refuses rather than normalises: `..`, `%2e%2e`, `//`, `\`, a leading `/`, and Unicode lookalikes
 * all fall outside the key alphabet or shape. Every refusal is the same 403, so it is no oracle.
 */
export function assertKeyInClinic(key: unknown, clinicId: string): DocumentKeyParts {
  const parts = parseDocumentKey(key);
  if (!parts || !isUuid(clinicId) || parts.clinicId !== clinicId) {
    throw forbidden('Document is outside the caller clinic');
  }
  return parts;
}

/** A list prefix: `clinics/{uuid}/` optionally narrowed by whole segments (`patients/{uuid}/`, ...). */
export function assertPrefixInClinicShape(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length > MAX_KEY_LENGTH || !KEY_ALPHABET.test(prefix)) {
    throw badRequest('Invalid document storage prefix');
  }
  const segments = prefix.split('/');
  const trailing = segments.pop();
  const expected = ['clinics', 'uuid', 'patients', 'uuid', 'uuid'];
  const ok =
    trailing === '' &&
    segments.length >= 2 &&
    segments.length <= expected.length &&
    segments.every((s, i) => (expected[i] === 'uuid' ? isUuid(s) : s === expected[i]));
  if (!ok) throw badRequest('Invalid document storage prefix');
  return prefix;
}

/**
 * Guard for a signed link handed back by a client: its object path must be a key in this clinic.
 * Checked on the raw text as well as the parsed URL, because URL parsing resolves `..` and
 * `%2e%2e`; any difference between the two means a path trick and is refused.
 */
export function assertSignedUrlInClinic(url: unknown, clinicId: string, bucket?: string): DocumentKeyParts {
  const refuse = () => forbidden('Document link is outside the caller clinic');
  if (typeof url !== 'string' || url.length > 4096 || !/^[\x21-\x7e]+$/.test(url)) throw refuse();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse();
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw refuse();
  if (parsed.username || parsed.password || parsed.hash) throw refuse();
  const rawPath = /^https?:\/\/[^/?#]+(\/[^?#]*)/i.exec(url)?.[1];
  if (!rawPath || rawPath !== parsed.pathname) throw refuse();
  const signed = parsed.searchParams.getAll('X-Amz-Signature').length === 1;
  if (!signed) throw refuse();

  // Path style `/{bucket}/{key}` or virtual-host style `/{key}`.
  const m = /^\/(?:([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/)?(clinics\/.*)$/.exec(rawPath);
  if (!m) throw refuse();
  const [, pathBucket, key] = m;
  if (bucket !== undefined && pathBucket !== undefined && pathBucket !== bucket) throw refuse();
  if (bucket !== undefined && pathBucket === undefined && !parsed.hostname.startsWith(`${bucket}.`)) throw refuse();
  try {
    return assertKeyInClinic(key, clinicId);
  } catch {
    throw refuse();
  }
}

/**
 * Bulk export files (server/fhir/bulk) live apart from documents, so the document sweep never
 * sees them: `exports/{clinicId}/{jobId}/{fileId}`, every segment a lowercase UUID chosen by the server.
 */
const EXPORT_KEY_SHAPE = /^exports\/([0-9a-f-]{36})\/([0-9a-f-]{36})\/([0-9a-f-]{36})$/;

export function exportFileKey(clinicId: string, jobId: string, fileId: string): string {
  const key = `exports/${clinicId}/${jobId}/${fileId}`;
  assertExportKey(key);
  return key;
}

/** The prefix of one export job's files, for listing them. */
export function exportJobPrefix(clinicId: string, jobId: string): string {
  if (!isUuid(clinicId) || !isUuid(jobId)) throw badRequest('Invalid export storage prefix');
  return `exports/${clinicId}/${jobId}/`;
}

export function assertExportKey(key: unknown): asserts key is string {
  const m = typeof key === 'string' && key.length <= MAX_KEY_LENGTH ? EXPORT_KEY_SHAPE.exec(key) : null;
  if (!m || !m.slice(1).every(isUuid)) throw badRequest('Invalid export storage key');
}
