import type { NextFunction, Request, Response } from 'express';
import { OperationOutcomeError, refusedAtEdge } from '../http/errors';

/** What this server writes: FHIR JSON, under each name a client may ask for it by. */
const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'];
const JSON_FORMATS = new Set(['json', ...JSON_TYPES]);

const notAcceptable = (msg: string) => new OperationOutcomeError(406, { severity: 'error', code: 'not-supported', diagnostics: msg });

/**
 * 406 for a request that accepts only what we do not produce (`Accept: application/fhir+xml`,
 * `_format=xml`): answering JSON anyway would hand a client a body it said it cannot read. The
 * refusal itself is an OperationOutcome in JSON (the one format we have). Document downloads
 * (Binary) answer their stored type and negotiate nothing here.
 */
export function refuseUnacceptable(req: Request, _res: Response, next: NextFunction): void {
  if (req.path.startsWith('/Binary')) return next();
  const format = typeof req.query._format === 'string' ? req.query._format.split(';')[0].trim().toLowerCase() : undefined;
  if (format !== undefined && !JSON_FORMATS.has(format)) {
    return next(refusedAtEdge(notAcceptable(`_format ${format.slice(0, 40)} is not produced here: this server answers application/fhir+json only`)));
  }
  const accept = req.headers.accept;
  if (accept && accept.trim() && !req.accepts(JSON_TYPES)) {
    return next(refusedAtEdge(notAcceptable(`Accept ${accept.slice(0, 60)} names nothing this server produces: it answers application/fhir+json only`)));
  }
  next();
}
