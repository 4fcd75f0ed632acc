/**
 * Where export files go: the private object store (server/documents/export-files.ts adapts it), one
 * object per file. The FHIR room names files by clinic, job and file id; the store builds the key.
 */
export interface ExportFiles {
  put(clinicId: string, jobId: string, fileId: string, body: Buffer): Promise<void>;
  get(clinicId: string, jobId: string, fileId: string): Promise<NodeJS.ReadableStream>;
  remove(clinicId: string, jobId: string, fileId: string): Promise<void>;
  /** File ids stored for a job, whether or not its row lists them yet. */
  list(clinicId: string, jobId: string): Promise<string[]>;
}
