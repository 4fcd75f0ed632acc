import type { ExportFiles } from '../fhir/bulk/files';
import { exportFileKey, exportJobPrefix } from './keys';
import type { ObjectStore } from './object-store';

/** Bulk export files in the private bucket, under `exports/{clinic}/{job}/{file}` (keys.ts). */
export function exportFilesIn(store: ObjectStore): ExportFiles {
  return {
    put: (clinicId, jobId, fileId, body) => store.putExportFile(exportFileKey(clinicId, jobId, fileId), body),
    get: (clinicId, jobId, fileId) => store.getExportFile(exportFileKey(clinicId, jobId, fileId)),
    remove: (clinicId, jobId, fileId) => store.removeExportFile(exportFileKey(clinicId, jobId, fileId)),
    list: async (clinicId, jobId) => {
      const prefix = exportJobPrefix(clinicId, jobId);
      return (await store.listExportFiles(prefix)).map((k) => k.slice(prefix.length));
    },
  };
}
