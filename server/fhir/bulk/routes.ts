import { pipeline } from 'node:stream';
import express, { type Request, type Response, type Router } from 'express';
import type { AccessContext } from '../../auth/access-context';
import { methodNotAllowed } from '../../http/errors';
import type { FhirResult } from '../interaction';
import { fromExpress } from '../request';
import { kickOff } from './kickoff';
import { type BulkDeps, ExportRunner } from './runner';
import { cancel, openFile, poll } from './status';

/** Answers a result as is: a manifest is application/json, an OperationOutcome application/fhir+json. */
function answer(res: Response, r: FhirResult): void {
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  res.status(r.status);
  if (r.body === undefined) { res.end(); return; }
  if (!res.getHeader('Content-Type')) res.setHeader('Content-Type', 'application/fhir+json; charset=utf-8');
  res.end(r.body);
}

const accessOf = (req: Request) => req.access as AccessContext;
const param = (req: Request, name: string) => String(req.params[name] ?? '');

/** Bulk Data Access (IG 2.0): kick-off, status polling, cancel and file download, all as the caller. */
export function bulkRouter(deps: BulkDeps, runner = new ExportRunner(deps)): Router {
  const router = express.Router();
  // Express answers HEAD with the GET route: a HEAD must not start an export.
  router.head(['/$export', '/Patient/$export'], () => { throw methodNotAllowed('A Bulk Data kick-off is a GET'); });
  router.get('/$export', async (req, res) => { answer(res, await kickOff(deps, runner, accessOf(req), fromExpress(req), 'system')); });
  router.get('/Patient/$export', async (req, res) => { answer(res, await kickOff(deps, runner, accessOf(req), fromExpress(req), 'patient')); });
  router.get('/$export-status/:job', async (req, res) => { answer(res, await poll(deps, runner, accessOf(req), param(req, 'job'))); });
  router.delete('/$export-status/:job', async (req, res) => { answer(res, await cancel(deps, accessOf(req), param(req, 'job'))); });
  router.get('/$export-file/:job/:file', async (req, res) => {
    const stream = await openFile(deps, accessOf(req), param(req, 'job'), param(req, 'file'));
    res.status(200).setHeader('Content-Type', 'application/fhir+ndjson');
    // Streamed from the store: the file is never held here whole.
    pipeline(stream, res, () => undefined);
  });
  return router;
}
