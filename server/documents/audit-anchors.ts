import type { AnchorStore } from '../audit/sealer';
import type { DocumentService } from './service';

/** Signed audit checkpoints kept in the object store beside the documents, under their own prefix. */
export function objectStoreAnchors(documents: DocumentService): AnchorStore {
  const ready = async () => {
    if (!(await documents.ensureReady(true))) throw new Error('the object store cannot be reached');
  };
  return {
    put: async (key, body) => { await ready(); await documents.store.putAnchor(key, body); },
    keys: async (prefix) => { await ready(); return documents.store.anchorKeys(prefix); },
    get: async (key) => { await ready(); return documents.store.getAnchor(key); },
    putFile: async (key, file) => { await ready(); await documents.store.putArchiveFile(key, file); },
  };
}
