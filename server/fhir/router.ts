import express, { type Request, type Response, type Router } from 'express';
import type { FhirInteraction } from '../auth/authorize';
import { methodNotAllowed, notFound } from '../http/errors';
import { history, read, vread } from './handlers/instance';
import { patch } from './handlers/patch';
import { search } from './handlers/search';
import { create, remove, update } from './handlers/write';
import { type FhirDeps, type FhirResult, type InteractionContext, runInteraction } from './interaction';
import { RESOURCE_DEFINITIONS, definitionOf } from './resources';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function send(res: Response, r: FhirResult): void {
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  res.status(r.status);
  if (r.body === undefined) { res.end(); return; }
  res.setHeader('Content-Type', FHIR_JSON);
  res.end(r.body);
}

type Handler = (ctx: InteractionContext) => Promise<FhirResult>;

/** The REST surface of every resource definition, served by one generic engine. */
export function fhirRouter(deps: FhirDeps): Router {
  const router = express.Router();
  const route = (interaction: FhirInteraction, handler: Handler) => async (req: Request, res: Response) => {
    const def = definitionOf(req.params.type as string);
    if (!def) throw notFound(`Resource type ${String(req.params.type).slice(0, 64)} is not supported by this server`);
    if (!def.interactions.includes(interaction)) {
      throw methodNotAllowed(def.serverWritten
        ? `${def.type} is written by the server itself: ${interaction} is not allowed`
        : `${interaction} is not supported on ${def.type}`);
    }
    send(res, await runInteraction(deps, req, def, interaction, handler));
  };
  router.get('/:type/_history', route('history-type', history));
  router.post('/:type/_search', route('search', search));
  router.get('/:type/:id/_history/:vid', route('vread', vread));
  router.get('/:type/:id/_history', route('history-instance', history));
  router.get('/:type/:id', route('read', read));
  router.put('/:type/:id', route('update', update));
  router.patch('/:type/:id', route('patch', patch));
  router.delete('/:type/:id', route('delete', remove));
  router.get('/:type', route('search', search));
  router.post('/:type', route('create', create));
  return router;
}

export const SUPPORTED_TYPES = RESOURCE_DEFINITIONS.map((d) => d.type);
