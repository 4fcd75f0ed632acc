import type { Knex } from 'knex';
import type { Account, BaseToken, Client, Configuration, KoaContext, Provider, ResourceServerInfo } from 'oidc-provider';
import type { Config } from '../config';
import { postgresAdapter } from './adapter';
import { asAuthServer } from './auth-db';
import { CLIENT_ASSERTION_ALGS, registeredScope } from './clients';
import { grantContext } from './grant-context';
import { fhirUserAt } from './fhir-user';
import { confineToPatient, memberIdentity, speaksForPatient } from './patient-user';
import { findLaunch } from './launch';
import { errors, ProviderClass } from './library';
import { oauthUrls } from './urls';
import { checkAgainstRegistration, resourceScopes, splitScopes, STATIC_SCOPES } from './smart-scopes';
import type { KeyRing } from './signing-keys';
import { errorPage, logoutPage, signedOutPage } from './views';

export interface ProviderDeps {
  cfg: Config;
  db: Knex;
  keys: KeyRing;
  /** Cookie signing keys shared by every node (oauth_secret). */
  cookieKeys: string[];
}

const IDLE_SESSION_S = 15 * 60;
const ABSOLUTE_SESSION_S = 12 * 3600;


const now = (): number => Math.floor(Date.now() / 1000);

/** Scopes a token request works from: the scope parameter, or what the code / refresh token carries. */
function candidateScopes(ctx: KoaContext): string | undefined {
  const { route, params, entities } = ctx.oidc;
  if (route === 'token' && params?.grant_type !== 'client_credentials') return entities.AuthorizationCode?.scope ?? entities.RefreshToken?.scope;
  return typeof params?.scope === 'string' ? params.scope : undefined;
}

/**
 * The one resource is our FHIR base. Its scopes for this request = requested ∩ the client's
 * registration; a scope beyond the registration refuses the request (invalid_scope) so it is never
 * silently widened or narrowed. system/ scopes only come with client_credentials, and vice versa.
 */
function resourceServerInfo(cfg: Config) {
  return async (ctx: KoaContext, resource: string, client: Client): Promise<ResourceServerInfo> => {
    if (resource !== cfg.tokenAudience) throw new errors.InvalidTarget("the only resource is this server's FHIR base URL");
    const system = ctx.oidc.params?.grant_type === 'client_credentials';
    const requested = candidateScopes(ctx);
    if (system && splitScopes(requested).length === 0) throw new errors.InvalidScope('scope is required (system/ scopes)');
    const { allowed, beyond } = checkAgainstRegistration(requested, registeredScope(client));
    const wrongKind = allowed.filter((s) => s.startsWith('system/') !== system && !STATIC_SCOPES.includes(s));
    const refused = [...beyond, ...wrongKind, ...(system ? allowed.filter((s) => STATIC_SCOPES.includes(s)) : [])];
    if (refused.length > 0) {
      throw new errors.InvalidScope(system ? 'only registered system/ scopes may be requested' : 'requested scope is not registered for this client (or is a system/ scope)', refused.join(' '));
    }
    return {
      scope: resourceScopes(allowed).join(' '),
      audience: cfg.tokenAudience,
      accessTokenFormat: 'jwt',
      accessTokenTTL: system ? cfg.oauth.systemTokenTtl : cfg.oauth.accessTokenTtl,
      jwt: { sign: { alg: 'ES256' } },
    };
  };
}

/**
 * The claims the FHIR API verifies: clinic, and for app tokens the patient in context and fhirUser.
 * A patient's own account is always in its own Patient's context, whatever the grant recorded.
 */
function extraTokenClaims(deps: ProviderDeps) {
  const { cfg, db } = deps;
  return async (ctx: KoaContext, token: BaseToken): Promise<Record<string, unknown> | undefined> => {
    if (token.kind === 'ClientCredentials') return { [cfg.clinicClaim]: ctx.oidc.client?.metadata().clinic_id };
    if (token.kind !== 'AccessToken' || !token.grantId) return undefined;
    const context = await grantContext(db, token.grantId);
    if (!context) throw new errors.InvalidGrant('the authorization context has expired');
    const identity = await memberIdentity(db, cfg, context.clinicId, context.userId);
    const patient = identity.patientId ?? context.patientId;
    return { [cfg.clinicClaim]: context.clinicId, ...(patient ? { patient } : {}), fhirUser: identity.fhirUser };
  };
}

/**
 * JWT access tokens are not stored by oidc-provider; we keep a record keyed by jti so introspection
 * and revocation (and revoking a whole refresh-token family) work for them too.
 */
function recordJwtAccessToken(db: Knex) {
  return async (_ctx: KoaContext, token: BaseToken, jwt: { payload: Record<string, unknown> }): Promise<void> => {
    // exp, iat and jti are final only in the JWT payload (the model computes them while formatting).
    const { exp, iat, jti } = jwt.payload as { exp: number; iat: number; jti: string };
    // A patient's own token carries patient/ scopes only, whatever was asked (the grant keeps the asked words).
    if (speaksForPatient(jwt.payload) && typeof jwt.payload.scope === 'string') jwt.payload.scope = confineToPatient(jwt.payload.scope);
    const payload = {
      iat, exp, jti, kind: token.kind, accountId: token.accountId, clientId: token.clientId,
      grantId: token.grantId, scope: jwt.payload.scope ?? token.scope, aud: token.aud, extra: token.extra, gty: token.gty, sid: token.sid,
      sessionUid: token.sessionUid, expiresWithSession: token.expiresWithSession,
    };
    await asAuthServer(db, (trx) => trx('oauth_model').insert({
      model: token.kind, id: jti, payload: JSON.stringify(payload), grant_id: token.grantId ?? null,
      expires_at: trx.raw('to_timestamp(?)', [exp]),
    }).onConflict(['model', 'id']).merge());
  };
}

/** SMART Backend Services: sub = iss = client_id, aud = our token URL, exp at most 5 minutes ahead. */
function assertClientAssertion(cfg: Config) {
  const tokenUrl = oauthUrls(cfg).token;
  return async (_ctx: KoaContext, claims: Record<string, unknown>, _header: unknown, client: Client): Promise<void> => {
    if (claims.sub !== client.clientId) throw new errors.InvalidClientAuth('sub (JWT subject) must be the client_id');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(tokenUrl)) throw new errors.InvalidClientAuth('aud (JWT audience) must be the token endpoint URL');
    if (typeof claims.exp !== 'number' || claims.exp > now() + 300 + 5) throw new errors.InvalidClientAuth('exp must be at most 5 minutes ahead');
  };
}

/** The account; its fhirUser (ID token) is the one at the clinic its grant chose, when the call names a grant. */
async function findAccount(db: Knex, cfg: Config, sub: string, token?: { grantId?: string }): Promise<Account | undefined> {
  const user = await asAuthServer(db, (trx) => trx('app_user').where({ id: sub, disabled: false }).first('id'));
  if (!user) return undefined;
  const context = token?.grantId ? await grantContext(db, token.grantId) : undefined;
  const fhirUser = await fhirUserAt(db, cfg, context?.clinicId, sub);
  return { accountId: sub, claims: () => ({ sub, fhirUser }) };
}

/** oidc-provider's configuration for SMART App Launch 2 and Backend Services. */
export function providerConfiguration(deps: ProviderDeps): Configuration {
  const { cfg, db } = deps;
  const cookie = { httpOnly: true, sameSite: 'lax', secure: cfg.oauth.cookieSecure, path: '/' };
  const hasScope = (source: BaseToken, s: string) => source.scopes.has(s);
  return {
    adapter: postgresAdapter(db, () => new errors.InvalidClientAuth('client assertion tokens must only be used once'), cfg),
    jwks: { keys: deps.keys.all().map((k) => ({ ...k.privateKey.export({ format: 'jwk' }), kid: k.kid, alg: k.alg, use: 'sig' })) },
    findAccount: (_ctx: KoaContext, sub: string, token?: BaseToken) => findAccount(db, cfg, sub, token),
    claims: { openid: ['sub'], fhirUser: ['fhirUser'] },
    scopes: [...STATIC_SCOPES],
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'RS256' },
    clientAuthMethods: ['none', 'private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: CLIENT_ASSERTION_ALGS,
      // RS256 first: SMART sso-openid-connect requires it; a client may still ask for ES256.
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      requestObjectSigningAlgValues: ['ES256'],
      introspectionSigningAlgValues: ['ES256'],
      authorizationSigningAlgValues: ['ES256'],
      userinfoSigningAlgValues: ['ES256'],
    },
    extraClientMetadata: { properties: ['clinic_id', 'registered_scope'] },
    extraParams: {
      aud: (_ctx: KoaContext, value: unknown) => {
        if (value !== cfg.tokenAudience) throw new errors.InvalidRequest("aud must be this server's FHIR base URL");
      },
      launch: async (ctx: KoaContext, value: unknown) => {
        if (value === undefined) return;
        if (!splitScopes(String(ctx.oidc.params?.scope ?? '')).includes('launch')) throw new errors.InvalidRequest('the launch parameter needs the launch scope');
        if (!(await findLaunch(db, value))) throw new errors.InvalidRequest('launch is unknown, expired or already used');
      },
    },
    pkce: { required: () => true },
    clockTolerance: 5,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async (_ctx: KoaContext, client: Client, token: BaseToken) => token.clientId === client.clientId },
      revocation: { enabled: true, allowedPolicy: async (_ctx: KoaContext, client: Client, token: BaseToken) => token.clientId === client.clientId },
      userinfo: { enabled: false },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => cfg.tokenAudience,
        useGrantedResource: async () => true,
        getResourceServerInfo: resourceServerInfo(cfg),
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: KoaContext, form: string) => { ctx.type = 'html'; ctx.body = logoutPage(form); },
        postLogoutSuccessSource: async (ctx: KoaContext) => { ctx.type = 'html'; ctx.body = signedOutPage(); },
      },
    },
    formats: { customizers: { jwt: recordJwtAccessToken(db) } },
    extraTokenClaims: extraTokenClaims(deps),
    assertJwtClientAuthClaimsAndHeader: assertClientAssertion(cfg),
    issueRefreshToken: async (_ctx: KoaContext, client: Client, code: BaseToken) =>
      client.grantTypeAllowed('refresh_token') && (hasScope(code, 'offline_access') || hasScope(code, 'online_access')),
    // online_access refresh tokens die with the sign-in session; offline_access ones outlive it.
    expiresWithSession: async (_ctx: KoaContext, code: BaseToken) => !hasScope(code, 'offline_access'),
    rotateRefreshToken: true,
    // Every authorization asks again (the clinic and patient in context are chosen each time).
    loadExistingGrant: async (ctx: KoaContext) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    interactions: { url: async (_ctx: KoaContext, interaction: { uid: string }) => `/oauth/interaction/${interaction.uid}` },
    cookies: { keys: deps.cookieKeys, long: cookie, short: cookie },
    ttl: {
      AccessToken: cfg.oauth.accessTokenTtl,
      ClientCredentials: cfg.oauth.systemTokenTtl,
      AuthorizationCode: 60,
      IdToken: cfg.oauth.accessTokenTtl,
      Interaction: IDLE_SESSION_S,
      Grant: cfg.oauth.refreshTokenTtl,
      RefreshToken: (_ctx: KoaContext, token: BaseToken) => (token.expiresWithSession ? ABSOLUTE_SESSION_S : cfg.oauth.refreshTokenTtl),
      // Sliding 15-minute idle timeout, never past 12 hours from sign-in.
      Session: (_ctx: KoaContext, session: { loginTs?: number }) =>
        Math.max(1, Math.min(IDLE_SESSION_S, session.loginTs ? session.loginTs + ABSOLUTE_SESSION_S - now() : IDLE_SESSION_S)),
    },
    renderError: async (ctx: KoaContext, out: { error: string; error_description?: string }) => {
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description);
    },
  };
}

/** Builds the provider: issuer = our token issuer, so the FHIR API's existing verification applies. */
export function buildProvider(deps: ProviderDeps): Provider {
  const provider = new ProviderClass(deps.cfg.tokenIssuer, providerConfiguration(deps));
  // Express decided which X-Forwarded-* to trust (trust proxy); the bridge passes on only its view.
  provider.proxy = true;
  if (deps.cfg.oauth.cookieSecure) {
    // Secure cookies on a loopback http URL too: browsers honour them there, and TLS ends at the proxy.
    Object.defineProperty(provider.request, 'secure', { get: () => true, configurable: true });
  }
  return provider;
}
