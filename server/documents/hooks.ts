import type { InteractionHooks } from '../fhir/interaction';
import type { DocumentService } from './service';
import { presentLinks } from './present-links';
import { storeAttachments } from './store-attachments';

/**
 * Documents plugged into the generic FHIR engine. Installed even without a store, so inline data
 * is refused (503) rather than ever landing in a database row.
 */
export function documentHooks(documents: DocumentService | undefined): InteractionHooks {
  return {
    beforeWrite: async (ctx, resource, at) =>
      ctx.def.storesAttachments ? storeAttachments(ctx, documents, resource, at) : resource,
    checkWrite: async (ctx, resource, at) => {
      if (ctx.def.storesAttachments) await storeAttachments(ctx, documents, resource, at, { check: true });
    },
    present: (ctx, interaction, result) => presentLinks(ctx, documents, interaction, result),
  };
}
