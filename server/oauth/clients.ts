import type { Knex } from 'knex';
import type { Adapter, AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { Config } from '../config';
import { isUuid } from '../http/ids';
import { SERVER_EVENTS_CLINIC } from '../audit/record';
import { CONSOLE_CLIENT_ID, CONSOLE_SCOPE, consoleRedirectUri } from './first-party';
import { asAuthServer } from './auth-db';
import { splitScopes, staticScopes } from './smart-scopes';

export type ClientType = 'public' | 'confidential-asymmetric';

export interface ClientRow {
  id: string;
  clinic_id: string;
  name: string;
  client_type: ClientType;
  redirect_uris: string[];
  scope: string;
  jwks: { keys: Array<Record<string, unknown>> } | null;
  jwks_uri: string | null;
  service_user_id: string | null;
  disabled: boolean;
}

/** Assertion algorithms accepted from confidential clients (SMART Backend Services). */
export const CLIENT_ASSERTION_ALGS = ['RS384', 'ES384'];

/** The scopes a client registered (all of them, SMART resource scopes included). */
export const registeredScope = (client: { metadata(): ClientMetadata }): string => String(client.metadata().registered_scope ?? '');

/** Our client registration as oidc-provider metadata. */
export function clientMetadata(row: ClientRow): ClientMetadata {
  const launches = row.redirect_uris.length > 0;
  const statics = staticScopes(splitScopes(row.scope));
  const grantTypes = [
    ...(launches ? ['authorization_code', 'refresh_token'] : []),
    ...(row.client_type === 'confidential-asymmetric' && row.service_user_id ? ['client_credentials'] : []),
  ];
  return {
    client_id: row.id,
    client_name: row.name,
    redirect_uris: row.redirect_uris,
    grant_types: grantTypes,
    response_types: launches ? ['code'] : [],
    token_endpoint_auth_method: row.client_type === 'public' ? 'none' : 'private_key_jwt',
    ...(row.jwks ? { jwks: row.jwks } : {}),
    ...(row.jwks_uri ? { jwks_uri: row.jwks_uri } : {}),
    // oidc-provider checks `scope` against its static list only; the full registration rides along.
    ...(statics.length ? { scope: statics.join(' ') } : {}),
    registered_scope: row.scope,
    id_token_signed_response_alg: 'RS256',
    clinic_id: row.clinic_id,
  };
}

/** A first-party client of this server (its consent is not asked: the server is the app), by id. */
export function firstPartyClient(cfg: Pick<Config, 'baseUrl'>, id: string): ClientRow | undefined {
  if (id !== CONSOLE_CLIENT_ID) return undefined;
  return {
    id: CONSOLE_CLIENT_ID, clinic_id: SERVER_EVENTS_CLINIC, name: 'Compliance console', client_type: 'public',
    redirect_uris: [consoleRedirectUri(cfg)], scope: CONSOLE_SCOPE, jwks: null, jwks_uri: null, service_user_id: null, disabled: false,
  };
}

/** Reads an enabled client of an active clinic, as the authorization server (or a built-in first-party one). */
export async function findClient(db: Knex, id: string, cfg?: Pick<Config, 'baseUrl'>): Promise<ClientRow | undefined> {
  const builtIn = cfg ? firstPartyClient(cfg, id) : undefined;
  if (builtIn) return builtIn;
  if (!isUuid(id)) return undefined;
  return asAuthServer(db, (trx) => trx<ClientRow>('oauth_client as c').join('clinic as k', 'k.id', 'c.clinic_id')
    .where({ 'c.id': id, 'c.disabled': false, 'k.active': true })
    .first('c.id', 'c.clinic_id', 'c.name', 'c.client_type', 'c.redirect_uris', 'c.scope', 'c.jwks', 'c.jwks_uri', 'c.service_user_id', 'c.disabled'));
}

/** oidc-provider's `Client` model, read from oauth_client (registration happens in the admin CLI). */
export function clientAdapter(db: Knex, cfg: Pick<Config, 'baseUrl'>): Adapter {
  const none = async (): Promise<undefined> => undefined;
  const refuse = async (): Promise<void> => { throw new Error('clients are registered with the admin CLI'); };
  return {
    async find(id: string): Promise<AdapterPayload | undefined> {
      const row = await findClient(db, id, cfg);
      return row ? (clientMetadata(row) as AdapterPayload) : undefined;
    },
    findByUid: none,
    findByUserCode: none,
    upsert: refuse,
    consume: refuse,
    destroy: refuse,
    revokeByGrantId: refuse,
  };
}
