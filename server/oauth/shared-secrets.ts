import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { asAuthServer } from './auth-db';

/** A secret every node shares (cookie signing, CSRF): the first node to start creates it. */
export async function sharedSecret(db: Knex, name: string): Promise<string> {
  return asAuthServer(db, async (trx) => {
    await trx('oauth_secret').insert({ name, value: crypto.randomBytes(32).toString('base64url') }).onConflict('name').ignore();
    const row = await trx('oauth_secret').where({ name }).first('value');
    return row.value as string;
  });
}

export interface OAuthSecrets { cookieKeys: string[]; csrfSecret: string }

export async function loadOAuthSecrets(db: Knex): Promise<OAuthSecrets> {
  return { cookieKeys: [await sharedSecret(db, 'cookie-key')], csrfSecret: await sharedSecret(db, 'csrf-key') };
}
