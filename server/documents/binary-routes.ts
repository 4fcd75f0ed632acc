import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { Knex } from 'knex';
import type { AuditFacts } from '../audit/record';
import type { FhirInteraction } from '../auth/authorize';
import type { Config } from '../config';
import { callerFacts, compartmentFor } from '../fhir/interaction';
import { badRequest, forbidden, gone, notFound, serviceUnavailable, tooLarge, unprocessable } from '../http/errors';
import { currentRequest } from '../http/request-context';
import { audited, auditedOutside, type AuditedTx } from '../pipeline/audited';
import type { AccessContext } from '../auth/access-context';
import { binariesById, deletedDocuments, insertBinary } from './binary-table';
import { assertKeyInClinic, documentKey, isUuid } from './keys';
import type { DocumentService } from './service';
import { allowedContentType, MAX_UPLOAD_BYTES } from './upload-checks';

/**
 * `POST /fhir/Binary`: the raw bytes of one document, with the file's Content-Type and
 * `X-Security-Context: Patient/{id}` naming whose it is. Mounted before the /fhir text parser, so
 * the body flows through the upload checks as it arrives (413 as soon as it passes 10 MB) and a
 * refused body never reaches the store. Answers 201 with a Binary (no data) that a
 * DocumentReference then references as `attachment.url = "Binary/{id}"`.
 *
 * `GET /fhir/Binary/{id}`: 302 to a freshly signed link (audited like a link in a DocumentReference),
 * so the bytes go from the store to the client without passing through this server.
 */

export interface BinaryRouteDeps { db: Knex; cfg: Config; documents?: DocumentService }

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function binaryRouter(deps: BinaryRouteDeps): Router {
  const router = express.Router();
  router.post('/', (req, res) => upload(deps, req, res));
  router.get('/:id', (req, res) => download(deps, req, res));
  return router;
}

/** The patient of `X-Security-Context: Patient/{id}` (the FHIR header for a Binary's security context). */
function securityContextPatient(header: unknown): string {
  const m = typeof header === 'string' ? /^\s*Patient\/([0-9a-fA-F-]{36})\s*$/.exec(header) : null;
  if (!m || !isUuid(m[1].toLowerCase())) throw badRequest('X-Security-Context must name the patient: Patient/{id}');
  return m[1].toLowerCase();
}

function declaredLength(req: Request): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined) return undefined;
  if (!/^\d{1,12}$/.test(raw)) throw badRequest('Content-Length is invalid');
  const n = Number(raw);
  if (n > MAX_UPLOAD_BYTES) throw tooLarge(`Attachment exceeds ${MAX_UPLOAD_BYTES} bytes`);
  return n;
}

async function patientExists(trx: Knex.Transaction, id: string): Promise<boolean> {
  return !!(await trx('patient').where({ id, deleted: false }).first('id'));
}

/**
 * One audited RLS transaction of the caller with the Binary permission checked first; the
 * AuditEvents the work owes commit with it, and a refusal is recorded by the pipeline.
 */
async function asCaller<T>(
  deps: BinaryRouteDeps, access: AccessContext, interaction: FhirInteraction, facts: AuditFacts,
  work: (tx: AuditedTx, compartment: string | undefined) => Promise<T>,
): Promise<T> {
  const compartmentPatientId = compartmentFor(access, [{ type: 'Binary', interaction }]);
  return audited(deps.db, access, facts, { compartmentPatientId }, async (tx) => {
    const decision = tx.require('Binary', interaction);
    if (decision.constraints) throw forbidden('Access denied: granular scopes are honoured on search only');
    return work(tx, decision.compartmentPatientId);
  });
}

async function upload(deps: BinaryRouteDeps, req: Request, res: Response): Promise<void> {
  const access = req.access as AccessContext;
  const facts: AuditFacts = { ...callerFacts(access, 'create', 'C'), resourceType: 'Binary' };
  const { patientId, contentType, length, documents } = await auditedOutside(deps.db, facts, async () => {
    const checked = {
      patientId: securityContextPatient(req.headers['x-security-context']),
      contentType: allowedContentType(req.headers['content-type']),
      length: declaredLength(req),
    };
    // Before a byte is read or a row written: a store that is down costs nothing to refuse.
    if (!deps.documents) throw serviceUnavailable('Document storage is not configured');
    await deps.documents.requireReady();
    return { ...checked, documents: deps.documents };
  });
  const id = randomUUID();
  const clinicId = access.clinicId;
  const owner = (compartment: string | undefined) => {
    if (compartment && compartment !== patientId) throw forbidden('Access denied: a patient-scoped token may store documents of its own patient only');
  };
  // 1. May this caller store a document for this patient? (no transaction is held while the body arrives)
  await asCaller(deps, access, 'create', facts, async (tx, compartment) => {
    owner(compartment);
    if (!(await patientExists(tx.trx, patientId))) throw unprocessable(`X-Security-Context: Patient/${patientId} is not known in this clinic`);
  });
  // 2. The body, checked as it streams; only a fully accepted body is sent to the store.
  const key = documentKey({ clinicId, patientId, documentId: id, attachmentId: id });
  assertKeyInClinic(key, clinicId);
  const stored = await auditedOutside(deps.db, facts, () => documents.put(key, req, contentType, length));
  // 3. The row and its AuditEvent; if they do not commit, the object goes too.
  let created: string;
  try {
    created = await asCaller(deps, access, 'create', facts, async (tx, compartment) => {
      owner(compartment);
      if (!(await patientExists(tx.trx, patientId))) throw unprocessable(`X-Security-Context: Patient/${patientId} is not known in this clinic`);
      const row = await insertBinary(tx.trx, {
        id, patientId, documentId: null, key, contentType,
        size: stored.size, sha1: stored.sha1Base64, ownerId: access.userId,
      });
      tx.audit({ ...facts, resourceId: id, versionId: '1', patientIds: [patientId] });
      return row.createdAt;
    });
  } catch (err) {
    await documents.remove(key).catch(() => currentRequest()?.log.warn('removing an upload whose row failed did not work; the sweeper will'));
    throw err;
  }
  const location = `${deps.cfg.fhirBaseUrl}/Binary/${id}`;
  res.status(201).setHeader('Content-Type', FHIR_JSON);
  res.setHeader('Location', location);
  res.setHeader('ETag', 'W/"1"');
  res.end(JSON.stringify({
    resourceType: 'Binary', id, meta: { versionId: '1', lastUpdated: created },
    contentType, securityContext: { reference: `Patient/${patientId}` },
  }));
}

async function download(deps: BinaryRouteDeps, req: Request, res: Response): Promise<void> {
  const access = req.access as AccessContext;
  const raw = String(req.params.id ?? '');
  const id = raw.toLowerCase();
  const facts: AuditFacts = { ...callerFacts(access, 'read', 'R'), resourceType: 'Binary', resourceId: isUuid(id) ? id : undefined };
  const url = await asCaller(deps, access, 'read', facts, async (tx) => {
    const row = isUuid(id) ? (await binariesById(tx.trx, [id])).get(id) : undefined;
    if (!row) throw notFound(`Binary/${raw.slice(0, 64)} is not known`);
    if (row.documentId && (await deletedDocuments(tx.trx, [row.documentId])).has(row.documentId)) {
      throw gone(`Binary/${id} belongs to a deleted DocumentReference`);
    }
    if (!deps.documents || !(await deps.documents.available())) throw serviceUnavailable('Document storage is unavailable: retry later');
    const link = await deps.documents.signFor(row.key, access.clinicId);
    tx.audit({ ...facts, patientIds: [row.patientId], related: row.documentId ? [`DocumentReference/${row.documentId}`] : [] });
    return link.url;
  });
  res.setHeader('Cache-Control', 'no-store');
  res.redirect(302, url);
}
