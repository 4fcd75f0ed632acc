import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/writer';
import { unavailableDbError } from '../http/db-errors';
import { logger } from '../http/logger';
import { currentRequest } from '../http/request-context';
import { badRequest, OperationOutcomeError, tooLarge, unsupportedMediaType, refusedBeforeAudit } from '../http/errors';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Errors from express's body parser are the client's: they get their 4xx. */
function fromBodyParser(err: { type?: string; status?: number; errno?: unknown }): OperationOutcomeError | null {
  switch (err.type) {
    case 'entity.too.large': return tooLarge('The request body is larger than this server accepts');
    case 'encoding.unsupported':
    case 'charset.unsupported': return unsupportedMediaType('Unsupported request body encoding');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'entity.verify.failed':
    case 'entity.parse.failed': return badRequest('The request body could not be read');
    default:
      // zlib's own error, given status 400 by the parser: the body is not what its Content-Encoding says.
      return err.status === 400 && typeof err.errno === 'number' ? badRequest('The request body could not be decoded as its Content-Encoding says') : null;
  }
}

/** The one place an error becomes a response: always an OperationOutcome, never a stack trace. */
export function errorHandler(db: Knex) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const e = err instanceof OperationOutcomeError ? err : fromBodyParser(err as { type?: string }) ?? unavailableDbError(err);
    // Only the code: a driver's message may quote the statement and its values.
    if (e?.status === 503 && !(err instanceof OperationOutcomeError)) (currentRequest()?.log ?? logger).warn({ code: (err as { code?: unknown }).code }, 'database unavailable');
    if (!e) {
      (currentRequest()?.log ?? logger).error({ err }, 'unhandled error');
      send(res, new OperationOutcomeError(500, { severity: 'fatal', code: 'exception', diagnostics: 'Internal server error' }));
      return;
    }
    // Refused before any audited handler ran (edge checks, body parser), from a known caller: audited here, once.
    const unaudited = refusedBeforeAudit(err) || !(err instanceof OperationOutcomeError);
    if (unaudited && req.access && e.status < 500) {
      const a = req.access;
      const info = currentRequest();
      void recordAudit(db, {
        interaction: req.method.toLowerCase(), action: 'E', outcome: '4', outcomeDesc: e.message.slice(0, 200),
        clinicId: a.clinicId, userId: a.userId, clientId: a.clientId, fhirUser: a.fhirUser, sourceIp: info?.sourceIp, requestId: info?.requestId,
      }).catch((e2) => info?.log.error({ err: e2 }, 'audit of a refused request failed')).then(() => send(res, e));
      return;
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
