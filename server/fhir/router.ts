import express, { type Request, type Response, type Router } from 'express';
import type { AccessContext } from '../auth/access-context';
import { runSystemHistory } from './handlers/history';
import { runValidate } from './handlers/validate';
import { runBundle } from './transaction/run';
import { type FhirDeps, type FhirResult, runInteraction } from './interaction';
import { createInOneTrip } from './one-trip-create';
import { readInOneTrip } from './one-trip-read';
import { searchInOneTrip } from './one-trip-search';
import { accessReport } from './access-report/report';
import { fromExpress } from './request';
import { RESOURCE_DEFINITIONS } from './resources';
import { definitionFor, FHIR_ROUTES, type FhirRoute } from './routes';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function send(res: Response, r: FhirResult): void {
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  res.status(r.status);
  if (r.body === undefined) { res.end(); return; }
  res.setHeader('Content-Type', FHIR_JSON);
  res.end(r.body);
}

/** The REST surface of every resource definition, served by one generic engine. */
export function fhirRouter(deps: FhirDeps): Router {
  const router = express.Router();
  const route = (r: FhirRoute) => async (req: Request, res: Response) => {
    const def = definitionFor(req.params.type as string, r.interaction);
    const access = req.access as AccessContext;
    const fr = fromExpress(req);
    // A plain read, search page or create goes in one round trip when the cached role decides it; otherwise (and for every refusal) the full path.
    const fast = r.operation ? undefined : r.interaction === 'read' ? await readInOneTrip(deps, access, fr, def)
      : r.interaction === 'search' && r.method === 'GET' ? await searchInOneTrip(deps, access, fr, def)
        : r.interaction === 'create' ? await createInOneTrip(deps, access, fr, def) : undefined;
    send(res, fast ?? await runInteraction(deps, access, fr, def, r.interaction, r.handler));
  };
  // batch and transaction Bundles are posted to the base itself.
  router.post('/', async (req: Request, res: Response) => {
    send(res, await runBundle(deps, req.access as AccessContext, fromExpress(req)));
  });
  // Operations on an instance, before the REST routes (routes.ts OWN_ROUTES lets them past the edge checks).
  router.get('/Patient/:id/$access-report', async (req: Request, res: Response) => {
    send(res, await accessReport(deps, req.access as AccessContext, fromExpress(req)));
  });
  // $validate checks a create, update or delete without doing it (handlers/validate.ts).
  const validate = async (req: Request, res: Response) => {
    const def = definitionFor(req.params.type as string, 'read');
    send(res, await runValidate(deps, req.access as AccessContext, fromExpress(req), def));
  };
  router.get('/_history', async (req: Request, res: Response) => {
    send(res, await runSystemHistory(deps, req.access as AccessContext, fromExpress(req)));
  });
  router.post('/:type/\\$validate', validate);
  router.post('/:type/:id/\\$validate', validate);
  for (const r of FHIR_ROUTES) {
    const method = r.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    router[method](r.path, route(r));
  }
  return router;
}

export const SUPPORTED_TYPES = RESOURCE_DEFINITIONS.map((d) => d.type);
