import type { Response } from 'express';
import type { Knex } from 'knex';
import type { Interaction, Provider } from 'oidc-provider';
import type { Config } from '../config';

export interface InteractionDeps {
  cfg: Config;
  db: Knex;
  provider: () => Provider;
  csrfSecret: string;
}

/** Headers of every sign-in page: no framing, no caching, forms may post only here (and redirect to the app). */
function pageHeaders(res: Response, redirectUri: unknown): void {
  let appOrigin = '';
  try { appOrigin = typeof redirectUri === 'string' ? ` ${new URL(redirectUri).origin}` : ''; } catch { /* no app origin */ }
  res.setHeader('Content-Security-Policy', `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${appOrigin}; frame-ancestors 'none'; base-uri 'none'`);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
}

export function sendPage(res: Response, status: number, html: string, redirectUri?: unknown): void {
  pageHeaders(res, redirectUri);
  res.status(status).end(html);
}

/** The account already established for this interaction: signed in just now, or by the session. */
export const accountOf = (details: Interaction): string | undefined => details.result?.login?.accountId ?? details.session?.accountId;

