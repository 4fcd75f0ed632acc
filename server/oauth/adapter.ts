import type { Config } from '../config';
import type { Knex } from 'knex';
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import { asAuthServer } from './auth-db';
import { clientAdapter } from './clients';

/** Models whose instances are self-contained JWT access tokens: destroying one must deny its jti. */
const ACCESS_TOKEN_MODELS = new Set(['AccessToken', 'ClientCredentials']);

interface ModelRow { payload: AdapterPayload; consumed_at: Date | null }

/**
 * oidc-provider's storage in PostgreSQL (table oauth_model), so every node sees the same sessions,
 * interactions, codes, grants, refresh tokens and used assertion ids. Revoking a grant (a refresh
 * token family) also denies the access tokens it issued, which the FHIR API checks by jti.
 */
export function postgresAdapter(db: Knex, replayError: () => Error, cfg: Pick<Config, 'baseUrl'>): AdapterFactory {
  return (model: string) => (model === 'Client' ? clientAdapter(db, cfg) : new PostgresAdapter(db, model, replayError));
}

class PostgresAdapter implements Adapter {
  constructor(private readonly db: Knex, private readonly model: string, private readonly replayError: () => Error) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    if (this.model === 'ReplayDetection') return this.insertOnce(id, payload, expiresIn);
    await asAuthServer(this.db, (trx) => trx('oauth_model').insert({
      model: this.model,
      id,
      payload: JSON.stringify(payload),
      grant_id: typeof payload.grantId === 'string' ? payload.grantId : null,
      uid: typeof payload.uid === 'string' ? payload.uid : null,
      expires_at: expiresIn > 0 ? trx.raw('now() + make_interval(secs => ?)', [expiresIn]) : null,
    }).onConflict(['model', 'id']).merge(['payload', 'grant_id', 'uid', 'expires_at']));
  }

  /** A used assertion id is inserted atomically: of two concurrent uses, one is refused. */
  private async insertOnce(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const inserted = await asAuthServer(this.db, (trx) => trx('oauth_model').insert({
      model: this.model, id, payload: JSON.stringify(payload),
      expires_at: trx.raw('now() + make_interval(secs => ?)', [Math.max(expiresIn, 1)]),
    }).onConflict(['model', 'id']).ignore().returning('id'));
    if (inserted.length === 0) throw this.replayError();
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.findWhere({ id });
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findWhere({ uid });
  }

  async findByUserCode(): Promise<AdapterPayload | undefined> {
    return undefined; // the device flow is not enabled
  }

  async consume(id: string): Promise<void> {
    await asAuthServer(this.db, (trx) => trx('oauth_model').where({ model: this.model, id }).update({ consumed_at: trx.fn.now() }));
  }

  async destroy(id: string): Promise<void> {
    await asAuthServer(this.db, async (trx) => {
      if (ACCESS_TOKEN_MODELS.has(this.model)) await denyAccessTokens(trx, { model: this.model, id });
      await trx('oauth_model').where({ model: this.model, id }).delete();
    });
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await asAuthServer(this.db, async (trx) => {
      if (ACCESS_TOKEN_MODELS.has(this.model)) await denyAccessTokens(trx, { model: this.model, grant_id: grantId });
      await trx('oauth_model').where({ model: this.model, grant_id: grantId }).delete();
    });
  }

  private async findWhere(where: { id: string } | { uid: string }): Promise<AdapterPayload | undefined> {
    const row = await asAuthServer(this.db, (trx) => trx<ModelRow>('oauth_model')
      .where({ model: this.model, ...where } as Record<string, string>)
      .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', trx.fn.now()))
      .first('payload', 'consumed_at'));
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
  }
}

/** Records the jti of every access token the query selects as revoked until it would have expired. */
async function denyAccessTokens(trx: Knex.Transaction, where: Record<string, string>): Promise<void> {
  // insert ... select: the column order of oauth_revoked_token is (jti, expires_at).
  await trx('oauth_revoked_token')
    .insert(trx('oauth_model').where(where).select('id', trx.raw("coalesce(expires_at, now() + interval '1 day')")))
    .onConflict('jti').ignore();
}

/** True when one of our access tokens was revoked (one call, no transaction: the FHIR hot path). */
export async function isRevoked(db: Knex, jti: string): Promise<boolean> {
  const { rows } = await db.raw<{ rows: Array<{ revoked: boolean }> }>('select oauth_token_revoked(?) as revoked', [jti]);
  return rows[0]?.revoked === true;
}

/** Deletes what has expired (run periodically; safe on every node at once). */
export async function pruneExpired(db: Knex): Promise<void> {
  await asAuthServer(db, async (trx) => {
    await trx('oauth_model').where('expires_at', '<', trx.raw("now() - interval '1 hour'")).delete();
    await trx('oauth_revoked_token').where('expires_at', '<', trx.fn.now()).delete();
    await trx('oauth_grant_context').where('expires_at', '<', trx.fn.now()).delete();
    await trx('oauth_launch').where('expires_at', '<', trx.fn.now()).delete();
    await trx('login_throttle').where('window_started_at', '<', trx.raw("now() - interval '1 day'"))
      .where((q) => q.whereNull('locked_until').orWhere('locked_until', '<', trx.fn.now())).delete();
  });
}
