import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/writer';
import { TokenRevokedError } from '../tenancy/with-clinic';
import { logger } from './logger';
import { currentRequest } from './request-context';
import { badRequest, OperationOutcomeError, tooLarge, unsupportedMediaType } from './errors';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Errors from express's body parser are the client's: they get their 4xx. */
function fromBodyParser(err: { type?: string; status?: number }): OperationOutcomeError | null {
  switch (err.type) {
    case 'entity.too.large': return tooLarge('The request body is larger than this server accepts');
    case 'encoding.unsupported':
    case 'charset.unsupported': return unsupportedMediaType('Unsupported request body encoding');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'entity.verify.failed':
    case 'entity.parse.failed': return badRequest('The request body could not be read');
    default: return null;
  }
}

/** The one place an error becomes a response: always an OperationOutcome, never a stack trace. */
export function errorHandler(db: Knex) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let e = err instanceof OperationOutcomeError ? err : fromBodyParser(err as { type?: string });
    if (e && !(err instanceof OperationOutcomeError) && req.access) {
      // A body the parser refused, from a known user: still part of the audit trail.
      const a = req.access;
      void recordAudit(db, {
        interaction: req.method.toLowerCase(), action: 'E', outcome: '4', outcomeDesc: e.message,
        clinicId: a.clinicId, userId: a.userId, clientId: a.clientId, sourceIp: currentRequest()?.sourceIp,
      }).catch(() => undefined);
    }
    if (err instanceof TokenRevokedError && req.access) {
      // Revocation is checked in the request's first statement (withClinic): audit it as the token check would.
      const a = req.access;
      void recordAudit(db, {
        interaction: 'login', action: 'E', outcome: '4', outcomeDesc: 'token refused: token revoked',
        clinicId: a.clinicId, userId: a.userId, clientId: a.clientId, sourceIp: currentRequest()?.sourceIp,
      }).catch((e2) => currentRequest()?.log.error({ err: e2 }, 'audit of a refused token failed')).then(() => send(res, err));
      return;
    }
    if (!e) {
      (currentRequest()?.log ?? logger).error({ err }, 'unhandled error');
      e = new OperationOutcomeError(500, { severity: 'fatal', code: 'exception', diagnostics: 'Internal server error' });
    }
    send(res, e);
  };
}

function send(res: Response, e: OperationOutcomeError): void {
  if (res.headersSent) { res.end(); return; }
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  res.status(e.status).setHeader('Content-Type', FHIR_JSON);
  res.end(JSON.stringify(e.toOperationOutcome()));
}
