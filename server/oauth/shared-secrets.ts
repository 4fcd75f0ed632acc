import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { asAuthServer } from './auth-db';
import { PURPOSE } from './sealed-secrets';
import { seal, unseal } from './secret-box';

/** A secret every node shares (cookie signing, CSRF, page links): the first node to start creates it, sealed. */
export async function sharedSecret(db: Knex, name: string): Promise<string> {
  return asAuthServer(db, async (trx) => {
    await trx('oauth_secret').insert({ name, value: seal(crypto.randomBytes(32).toString('base64url'), PURPOSE.shared) }).onConflict('name').ignore();
    const row = await trx('oauth_secret').where({ name }).first('value');
    return unseal(row.value as string, PURPOSE.shared);
  });
}

export interface OAuthSecrets { cookieKeys: string[]; csrfSecret: string; /** Signs search paging links (PAGE_SECRET overrides it). */ pageSecret: string }

export async function loadOAuthSecrets(db: Knex): Promise<OAuthSecrets> {
  return { cookieKeys: [await sharedSecret(db, 'cookie-key')], csrfSecret: await sharedSecret(db, 'csrf-key'), pageSecret: await sharedSecret(db, 'page-key') };
}
