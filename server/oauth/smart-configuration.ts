import type { CapabilityStatementRestSecurity } from 'fhir/r4';
import type { Config } from '../config';
import { CLIENT_ASSERTION_ALGS } from './clients';
import { STATIC_SCOPES } from './smart-scopes';
import { oauthUrls } from './urls';

/** Only what works end to end (each is exercised by test/oauth). */
export const SMART_CAPABILITIES: readonly string[] = Object.freeze([
  'launch-ehr', 'launch-standalone',
  'client-public', 'client-confidential-asymmetric',
  'context-standalone-patient', 'context-ehr-patient',
  'permission-patient', 'permission-user', 'permission-v1', 'permission-v2', 'permission-offline',
  'sso-openid-connect',
]);

/** GET /fhir/.well-known/smart-configuration (SMART App Launch 2, §Conformance). */
export function smartConfiguration(cfg: Config) {
  const u = oauthUrls(cfg);
  return {
    issuer: u.issuer,
    jwks_uri: u.jwks,
    authorization_endpoint: u.authorize,
    token_endpoint: u.token,
    introspection_endpoint: u.introspect,
    revocation_endpoint: u.revoke,
    end_session_endpoint: u.logout,
    grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGS,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: [
      ...STATIC_SCOPES,
      ...['patient', 'user', 'system'].flatMap((ctx) => [`${ctx}/*.cruds`, `${ctx}/*.rs`, `${ctx}/*.read`, `${ctx}/*.write`, `${ctx}/*.*`]),
    ],
    capabilities: [...SMART_CAPABILITIES],
  };
}

/** The CapabilityStatement's security section, matching the discovery document. */
export function smartSecurity(cfg: Config): CapabilityStatementRestSecurity {
  const u = oauthUrls(cfg);
  return {
    cors: cfg.corsOrigins === '*' || cfg.corsOrigins.length > 0,
    service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }], text: 'OAuth2 using SMART-on-FHIR profile' }],
    extension: [{
      url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
      extension: [
        { url: 'authorize', valueUri: u.authorize },
        { url: 'token', valueUri: u.token },
        { url: 'introspect', valueUri: u.introspect },
        { url: 'revoke', valueUri: u.revoke },
      ],
    }],
    description: 'SMART App Launch 2 and Backend Services (see .well-known/smart-configuration). Bearer JWT (ES256) carrying SMART v1/v2 scopes, '
      + "intersected with the user's (or client's) role at the clinic; clinic isolation by PostgreSQL Row Level Security.",
  };
}
