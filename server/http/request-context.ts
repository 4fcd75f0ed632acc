import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger';

/** Per-request facts that deep code (audit, logging) needs without threading parameters. */
export interface RequestInfo {
  requestId: string;
  method: string;
  path: string;
  sourceIp?: string;
  userAgent?: string;
  log: Logger;
  /** The verified caller, once the token is checked. */
  caller?: { userId: string; clinicId: string; clientId?: string; patientId?: string };
  /** Why the caller acts (v3 ActReason, e.g. BTG for emergency access), recorded in every AuditEvent of the request. */
  purposeOfUse?: string;
}

const storage = new AsyncLocalStorage<RequestInfo>();

export function runWithRequest<T>(info: RequestInfo, fn: () => T): T {
  return storage.run(info, fn);
}

export function currentRequest(): RequestInfo | undefined {
  return storage.getStore();
}
