import type { AuditFacts } from '../audit/record';
import type { FhirInteraction } from '../auth/authorize';
import { callerFacts, type FhirResult, type InteractionContext, permits } from '../fhir/interaction';
import { OperationOutcomeError } from '../http/errors';
import { addExtension, attachmentsOf, binaryIdOf, documentReferencesIn, EXT_LINK_EXPIRES, EXT_UNAVAILABLE, type Json } from './attachments';
import { binariesById, deletedDocuments } from './binary-table';
import type { DocumentService } from './service';

/**
 * The read half of documents: in what a read, vread, search (with includes) or history answers,
 * each attachment whose url is `Binary/{id}` gets a freshly signed GET link, for callers allowed
 * to read that DocumentReference. Every link handed out is audited (a `read` of the Binary, naming
 * the document and the patient) in the interaction's transaction. Deleted documents get no link;
 * when the store is down the attachment keeps its `Binary/{id}` and is marked unavailable.
 */
export async function presentLinks(
  ctx: InteractionContext, documents: DocumentService | undefined, interaction: FhirInteraction, result: FhirResult,
): Promise<FhirResult> {
  // Cheap test first: most answers name no Binary and are returned untouched, without parsing.
  if (!result.body || !result.body.includes('Binary/')) return result;
  const body: unknown = JSON.parse(result.body);
  const fhirBase = ctx.deps.cfg.fhirBaseUrl;
  const targets = documentReferencesIn(body).flatMap((doc) => attachmentsOf(doc)
    .map(({ attachment }) => ({ doc, attachment, binaryId: binaryIdOf(attachment.url, fhirBase) }))
    .filter((t): t is { doc: Json; attachment: Json; binaryId: string } => t.binaryId !== undefined));
  if (!targets.length) return result;
  // A search-only grant lists documents but hands out no content.
  if (!permits(ctx, 'DocumentReference', 'read').allowed) return result;

  const docIds = [...new Set(targets.map((t) => String(t.doc.id)))];
  // A read or a search only ever shows current versions; older versions may belong to a deleted document.
  const deleted = interaction === 'vread' || interaction.startsWith('history') ? await deletedDocuments(ctx.trx, docIds) : new Set<string>();
  const live = targets.filter((t) => !deleted.has(String(t.doc.id)));
  if (!live.length) return result;
  const rows = await binariesById(ctx.trx, live.map((t) => t.binaryId));
  const up = documents ? await documents.available() : false;

  const extra: AuditFacts[] = [];
  for (const t of live) {
    const row = rows.get(t.binaryId);
    const link = up && documents && row ? await signOrUnavailable(documents, row.key, ctx.access.clinicId) : undefined;
    if (!row || !link) {
      addExtension(t.attachment, { url: EXT_UNAVAILABLE, valueString: 'The document content is unavailable right now; retry later' });
      continue;
    }
    t.attachment.url = link.url;
    addExtension(t.attachment, { url: EXT_LINK_EXPIRES, valueInstant: link.expiresAt.toISOString() });
    extra.push({
      ...callerFacts(ctx.access, 'read', 'R'), roleName: ctx.membership.role,
      resourceType: 'Binary', resourceId: row.id, patientIds: [row.patientId], related: [`DocumentReference/${String(t.doc.id)}`],
    });
  }
  return { ...result, body: JSON.stringify(body), audit: { ...result.audit, extra: [...(result.audit?.extra ?? []), ...extra] } };
}

/** A signed link, or undefined when the store fails now; a clinic-guard refusal (403) is not swallowed. */
async function signOrUnavailable(documents: DocumentService, key: string, clinicId: string) {
  try {
    return await documents.signFor(key, clinicId);
  } catch (err) {
    if (err instanceof OperationOutcomeError && err.status === 503) return undefined;
    throw err;
  }
}
