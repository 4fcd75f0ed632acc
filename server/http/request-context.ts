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
}

const storage = new AsyncLocalStorage<RequestInfo>();

export function runWithRequest<T>(info: RequestInfo, fn: () => T): T {
  return storage.run(info, fn);
}

export function currentRequest(): RequestInfo | undefined {
  return storage.getStore();
}
