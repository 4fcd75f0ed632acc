import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Knex } from 'knex';
import type { AccessContext } from '../auth/access-context';
import type { FhirResult } from '../fhir/interaction';
import { type FhirRequest, fromExpress } from '../fhir/request';
import { send } from '../fhir/router';
import { setAccessPolicy } from './access-policy';
import { listBreakGlass, requestBreakGlass, reviewBreakGlass, revokeBreakGlass } from './break-glass';
import { assign, share, unassign } from './relationships';

type Operation = (db: Knex, access: AccessContext, req: FhirRequest) => Promise<FhirResult>;

const INSTANCE_POST: Readonly<Record<string, Operation>> = {
  $assign: assign, $unassign: unassign, $share: share,
  '$break-glass': requestBreakGlass, '$break-glass-revoke': revokeBreakGlass, '$break-glass-review': reviewBreakGlass,
};
const INSTANCE_GET: Readonly<Record<string, Operation>> = { '$break-glass': listBreakGlass };
const SYSTEM_POST: Readonly<Record<string, Operation>> = { '$set-access-policy': setAccessPolicy };

/** The care operations (server/fhir/operations.ts lists them for the edge checks); anything else goes on to the FHIR router. */
export function careRouter(db: Knex): Router {
  const router = express.Router();
  const serve = (table: Readonly<Record<string, Operation>>, param: 'op' | 'sop') => async (req: Request, res: Response, next: NextFunction) => {
    const name = String(req.params[param]);
    const op = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
    if (!op) { next(); return; }
    send(res, await op(db, req.access as AccessContext, fromExpress(req)));
  };
  router.post('/Patient/:id/:op', serve(INSTANCE_POST, 'op'));
  router.get('/Patient/:id/:op', serve(INSTANCE_GET, 'op'));
  router.post('/:sop', serve(SYSTEM_POST, 'sop'));
  return router;
}
