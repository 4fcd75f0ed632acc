import express, { type NextFunction, type Request, type Response } from 'express';
import type { Knex } from 'knex';
import { asAuthServer } from './auth-db';
import { findClient } from './clients';

/** The client a refresh token was issued to, read from the provider's storage (unexpired, unconsumed). */
async function refreshTokenClient(db: Knex, token: string): Promise<string | undefined> {
  const row = await asAuthServer(db, (trx) => trx('oauth_model')
    .where({ model: 'RefreshToken', id: token }).whereNull('consumed_at')
    .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', trx.fn.now()))
    .first('payload'));
  const clientId = (row?.payload as { clientId?: unknown } | undefined)?.clientId;
  return typeof clientId === 'string' ? clientId : undefined;
}

/**
 * A public client's refresh without `client_id` (fhirclient's default): the client is the one the
 * refresh token was issued to, so it is named for the provider. Only public clients: a confidential
 * one still has to authenticate, and a request that carries any client identification is left alone.
 */
export function refreshWithoutClientId(db: Knex) {
  const form = express.urlencoded({ extended: false, limit: '56kb', parameterLimit: 20 });
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') { next(); return; }
    form(req, res, (err?: unknown) => {
      if (err) { next(err); return; }
      const body = req.body as Record<string, unknown> | undefined;
      if (!body || body.grant_type !== 'refresh_token' || typeof body.refresh_token !== 'string' || body.refresh_token.length > 512
        || body.client_id !== undefined || body.client_assertion !== undefined || req.headers.authorization !== undefined) { next(); return; }
      const token = body.refresh_token;
      (async () => {
        const clientId = await refreshTokenClient(db, token);
        const client = clientId ? await findClient(db, clientId) : undefined;
        if (client?.client_type === 'public') body.client_id = client.id;
      })().then(() => next(), next);
    });
  };
}
