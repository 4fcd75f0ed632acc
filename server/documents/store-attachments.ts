import { randomUUID } from 'node:crypto';
import { conflict, serviceUnavailable, unprocessable } from '../http/errors';
import type { InteractionContext } from '../fhir/interaction';
import type { FhirResource } from '../fhir/repository';
import { compartmentPatient } from '../fhir/search/extract';
import { attachBinary, binariesById, insertBinary } from './binary-table';
import { attachmentsOf, binaryIdOf, type Json, looksLikeBinaryUrl, withoutOurExtensions } from './attachments';
import { trackUpload } from './cleanup';
import { assertKeyInClinic, documentKey, isUuid } from './keys';
import type { DocumentService } from './service';
import { decodeInlineData } from './upload-checks';

/**
 * The write half of documents, run on every DocumentReference version before it is stored:
 * - inline `data` is checked, stored at a server-chosen key and replaced by `url: Binary/{id}`,
 *   `size` and `hash`: the row never holds the bytes;
 * - `url: Binary/{id}` must name a Binary of the same clinic and patient, not held by another document;
 * - one of our signed links (a resource read and written back) goes back to `Binary/{id}`, after
 *   the clinic guard; any other url is an external reference and is kept as given.
 * With `check` (`$validate`), every refusal is raised the same way but nothing is stored or bound:
 * the resource comes back as given.
 */
export async function storeAttachments(
  ctx: InteractionContext, documents: DocumentService | undefined, resource: FhirResource, at: { id: string }, opts: { check?: boolean } = {},
): Promise<FhirResource> {
  const found = attachmentsOf(resource);
  if (!found.length) return resource;
  const patientId = compartmentPatient(ctx.def, resource)?.toLowerCase();
  const content = [...(resource.content as unknown[])];
  for (const { attachment, index } of found) {
    const path = `DocumentReference.content[${index}].attachment`;
    const clean = withoutOurExtensions(attachment);
    let stored: Json;
    const where = { path, patientId, documentId: at.id, check: opts.check === true };
    if (clean.data !== undefined) stored = await uploadInline(ctx, documents, clean, where);
    else stored = await claimUrl(ctx, documents, clean, where);
    content[index] = { ...(content[index] as Json), attachment: stored };
  }
  return opts.check ? resource : { ...resource, content };
}

interface Where { path: string; patientId: string | undefined; documentId: string; check: boolean }

function requirePatient(where: Where): string {
  if (!where.patientId || !isUuid(where.patientId)) {
    throw unprocessable(`${where.path}: stored content needs a subject that is a Patient of this clinic`, ['DocumentReference.subject']);
  }
  return where.patientId;
}

function expectSame(where: Where, given: Json, actual: { size: number; hash: string; contentType: string }): void {
  const wrong = (['size', 'hash', 'contentType'] as const).filter((k) => given[k] !== undefined && given[k] !== actual[k]);
  if (wrong.length) {
    throw unprocessable(`${where.path}: ${wrong.join(', ')} do not match the stored content`, wrong.map((k) => `${where.path}.${k}`));
  }
}

async function uploadInline(ctx: InteractionContext, documents: DocumentService | undefined, attachment: Json, where: Where): Promise<Json> {
  const patientId = requirePatient(where);
  // Size, type and magic numbers first: a refused body costs no store round trip.
  const decoded = decodeInlineData(attachment.data, attachment.contentType);
  if (!documents) throw serviceUnavailable('Document storage is not configured');
  const { data: _bytes, ...rest } = attachment;
  expectSame(where, rest, { size: decoded.size, hash: decoded.sha1Base64, contentType: decoded.contentType });
  if (where.check) return attachment;
  const binaryId = randomUUID();
  const clinicId = ctx.access.clinicId;
  const key = documentKey({ clinicId, patientId, documentId: where.documentId, attachmentId: binaryId });
  assertKeyInClinic(key, clinicId);
  // Registered before the upload: if this transaction does not commit, the object is removed after it.
  trackUpload(ctx, documents, key);
  const put = await documents.put(key, decoded.body, decoded.contentType);
  await insertBinary(ctx.trx, {
    id: binaryId, patientId, documentId: where.documentId, key, contentType: decoded.contentType,
    size: put.size, sha1: put.sha1Base64, ownerId: ctx.access.userId,
  });
  return { ...rest, contentType: decoded.contentType, url: `Binary/${binaryId}`, size: put.size, hash: put.sha1Base64 };
}

async function claimUrl(ctx: InteractionContext, documents: DocumentService | undefined, attachment: Json, where: Where): Promise<Json> {
  const fhirBase = ctx.deps.cfg.fhirBaseUrl;
  const url = attachment.url;
  let binaryId = binaryIdOf(url, fhirBase);
  let linkedKey: string | undefined;
  if (!binaryId && typeof url === 'string' && documents?.isStoreUrl(url)) {
    // One of our links handed back: refused (403) unless it is a key of the caller's clinic.
    const parts = documents.parseLink(url, ctx.access.clinicId);
    binaryId = parts.attachmentId;
    linkedKey = documentKey(parts);
  }
  if (!binaryId) {
    if (looksLikeBinaryUrl(url, fhirBase)) throw unprocessable(`${where.path}.url: ${String(url).slice(0, 80)} is not a Binary of this server`, [`${where.path}.url`]);
    return attachment; // an external reference: kept as given, never signed
  }
  const patientId = requirePatient(where);
  const row = (await binariesById(ctx.trx, [binaryId])).get(binaryId);
  // Another clinic's Binary, another patient's, or none at all: one answer, so it is no oracle.
  if (!row || row.patientId !== patientId || (linkedKey !== undefined && row.key !== linkedKey)) {
    throw unprocessable(`${where.path}.url: Binary/${binaryId} is not a document of this patient in this clinic`, [`${where.path}.url`]);
  }
  expectSame(where, attachment, { size: row.size, hash: row.sha1, contentType: row.contentType });
  const held = where.check ? row.documentId !== null && row.documentId !== where.documentId : !(await attachBinary(ctx.trx, row.id, where.documentId));
  if (held) {
    throw conflict(`${where.path}.url: Binary/${binaryId} belongs to another DocumentReference`);
  }
  return { ...attachment, url: `Binary/${row.id}`, contentType: row.contentType, size: row.size, hash: row.sha1 };
}
