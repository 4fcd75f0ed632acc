import type { Config } from '../config';

/** Where the authorization server's endpoints are, as clients must call them. */
export function oauthUrls(cfg: Config) {
  const oidc = `${cfg.baseUrl}/oidc`;
  return {
    issuer: cfg.tokenIssuer,
    authorize: `${oidc}/auth`,
    token: `${oidc}/token`,
    introspect: `${oidc}/token/introspection`,
    revoke: `${oidc}/token/revocation`,
    logout: `${oidc}/session/end`,
    jwks: `${cfg.baseUrl}/.well-known/jwks.json`,
    launch: `${cfg.baseUrl}/oauth/launch`,
  };
}
