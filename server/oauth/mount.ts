import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { compactVerify, decodeProtectedHeader } from 'jose';
import type { Knex } from 'knex';
import type { Provider } from 'oidc-provider';
import type passport from 'passport';
import type { Config } from '../config';
import { interactionRouter } from './interactions';
import { launchRouter } from './launch';
import { protocolHooks } from './protocol-hooks';
import { refreshWithoutClientId } from './refresh-client';
import { buildProvider } from './provider';
import type { OAuthSecrets } from './shared-secrets';
import type { KeyRing } from './signing-keys';
import { smartConfiguration } from './smart-configuration';

export interface OAuthDeps {
  cfg: Config;
  db: Knex;
  keys: KeyRing;
  secrets: OAuthSecrets;
  passport: passport.Authenticator;
}

/**
 * The provider is stateless (everything lives in PostgreSQL), so when the key ring changes (a
 * rotation seen by the periodic reload) the next request simply gets a provider built on the new keys.
 */
function providerHolder(deps: OAuthDeps): () => { provider: Provider; handle: ReturnType<Provider['callback']> } {
  let built: { version: string; provider: Provider; handle: ReturnType<Provider['callback']> } | undefined;
  return () => {
    if (!built || built.version !== deps.keys.version) {
      const provider = buildProvider({ cfg: deps.cfg, db: deps.db, keys: deps.keys, cookieKeys: deps.secrets.cookieKeys });
      provider.use(protocolHooks(provider, deps.cfg, deps.db));
      built = { version: deps.keys.version, provider, handle: provider.callback() };
    }
    return built;
  };
}

/**
 * Introspection and revocation of our JWT access tokens: oidc-provider knows them by jti (we record
 * each one when it is issued), so a token with our valid signature is handed over as its jti. A JWT
 * that is not ours becomes a value that matches nothing (inactive / nothing to revoke).
 */
function jwtAccessTokenToJti(cfg: Config, keys: KeyRing) {
  const form = express.urlencoded({ extended: false, limit: '56kb', parameterLimit: 20 });
  return (req: Request, res: Response, next: NextFunction): void => {
    form(req, res, (err?: unknown) => {
      if (err) return next(err);
      const body = req.body as Record<string, unknown> | undefined;
      const token = body?.token;
      if (!body || typeof token !== 'string' || token.split('.').length !== 3) return next();
      (async () => {
        const key = await keys.find(decodeProtectedHeader(token).kid);
        if (!key) throw new Error('unknown key');
        const claims = JSON.parse(new TextDecoder().decode((await compactVerify(token, key.publicKey)).payload)) as Record<string, unknown>;
        if (claims.iss !== cfg.tokenIssuer || typeof claims.jti !== 'string') throw new Error('not ours');
        return claims.jti;
      })().then((jti) => { body.token = jti; }, () => { body.token = 'unknown-token'; }).finally(() => next());
    });
  };
}

/**
 * OpenID Connect drops offline_access unless prompt=consent; SMART apps do not send it. Every
 * authorization here shows the consent screen anyway, so saying so keeps the scope the app asked for.
 */
function consentForOfflineAccess(req: Request, _res: Response, next: NextFunction): void {
  const url = new URL(req.url, 'http://x');
  const scope = url.searchParams.get('scope') ?? '';
  if (scope.split(' ').includes('offline_access') && !url.searchParams.has('prompt')) {
    url.searchParams.set('prompt', 'consent');
    req.url = `${url.pathname}${url.search}`;
  }
  next();
}

/** Mounts discovery, the protocol endpoints (/oidc), the sign-in pages and the EHR launch API. */
export function mountOAuth(app: Express, deps: OAuthDeps): void {
  const { cfg } = deps;
  const current = providerHolder(deps);
  const discovery = JSON.stringify(smartConfiguration(cfg));
  app.get('/fhir/.well-known/smart-configuration', (_req, res) => {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.end(discovery);
  });
  app.get('/.well-known/openid-configuration', (_req, res) => { res.redirect(307, `${cfg.baseUrl}/oidc/.well-known/openid-configuration`); });
  app.use('/oauth/interaction', interactionRouter({ cfg, db: deps.db, csrfSecret: deps.secrets.csrfSecret, provider: () => current().provider }));
  app.use('/oauth/launch', launchRouter(cfg, deps.passport, deps.db));
  app.use(['/oidc/token/introspection', '/oidc/token/revocation'], jwtAccessTokenToJti(cfg, deps.keys));
  app.get('/oidc/auth', consentForOfflineAccess);
  app.post('/oidc/token', refreshWithoutClientId(deps.db));
  app.use('/oidc', (req, res) => {
    // Koa sees exactly what Express decided to trust (app 'trust proxy'), nothing a client sent.
    req.headers['x-forwarded-proto'] = req.protocol;
    req.headers['x-forwarded-host'] = req.host;
    req.headers['x-forwarded-for'] = req.ip ?? '';
    current().handle(req, res);
  });
}
