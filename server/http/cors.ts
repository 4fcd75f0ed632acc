import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config';

export const CORS_ALLOW_HEADERS = ['Authorization', 'Content-Type', 'Accept', 'Prefer', 'If-Match', 'If-None-Match', 'If-None-Exist', 'If-Modified-Since', 'X-Request-Id'];
export const CORS_EXPOSE_HEADERS = ['Location', 'ETag', 'Content-Location', 'Last-Modified', 'X-Progress', 'Retry-After', 'X-Request-Id', 'WWW-Authenticate'];
const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';

/** Whether a browser page of `origin` may read our answers (never with cookies: bearer tokens only). */
export function corsAllows(cfg: Pick<Config, 'corsOrigins'>, origin: string | undefined): boolean {
  if (!origin || origin === 'null') return false;
  return cfg.corsOrigins === '*' || cfg.corsOrigins.includes(origin);
}

/**
 * CORS for the bearer-token surface (FHIR API, discovery documents, keys, token endpoint). No
 * Access-Control-Allow-Credentials: a cross-origin page never rides on our cookies. A preflight is
 * answered here, before authentication, since browsers send it without the token.
 */
export function cors(cfg: Pick<Config, 'corsOrigins'>): RequestHandler {
  const any = cfg.corsOrigins === '*';
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    res.vary('Origin');
    if (!corsAllows(cfg, origin)) { next(); return; }
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : String(origin));
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', METHODS);
      res.setHeader('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS.join(', '));
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS.join(', '));
    next();
  };
}

/**
 * The authorization server adds CORS headers of its own (any origin on discovery, redirect-URI origins
 * on the token endpoint); ours decide instead, so its attempts to set them are dropped.
 */
export function onlyOurCors(_req: Request, res: Response, next: NextFunction): void {
  const set = res.setHeader.bind(res);
  res.setHeader = ((name: string, value: number | string | readonly string[]) =>
    (name.toLowerCase().startsWith('access-control-') ? res : set(name, value))) as Response['setHeader'];
  next();
}
