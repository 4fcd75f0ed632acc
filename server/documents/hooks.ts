import type { InteractionHooks } from '../fhir/interaction';
import type { DocumentService } from './service';
import { presentLinks } from './present-links';
import { storeAttachments } from './store-attachments';
import { MAX_UPLOAD_BYTES } from './upload-checks';

/**
 * Documents plugged into the generic FHIR engine. Installed even without a store, so inline data
 * is refused (503) rather than ever landing in a database row.
 */
export function documentHooks(documents: DocumentService | undefined): InteractionHooks {
  return {
    beforeWrite: async (ctx, resource, at) =>
      ctx.def.type === 'DocumentReference' ? storeAttachments(ctx, documents, resource, at) : resource,
    present: (ctx, interaction, result) => presentLinks(ctx, documents, interaction, result),
  };
}

/** A body that carries a 10 MB document as base64 (4/3 larger), plus room for the rest of the resource. */
export const INLINE_DOCUMENT_BODY_BYTES = Math.ceil(MAX_UPLOAD_BYTES / 3) * 4 + 256 * 1024;
