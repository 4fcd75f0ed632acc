import type { Knex } from 'knex';
import type { BaseToken, KoaContext, Middleware, OIDCProviderError, Provider } from 'oidc-provider';
import type { Config } from '../config';
import { currentRequest } from '../http/request-context';
import { type AuthEventKind, recordAuthEvent, recordAuthEventInClinics } from './audit';
import { asAuthServer } from './auth-db';
import { activeClinicIds } from './sign-in';
import { grantContext } from './grant-context';
import { confineToPatient, speaksForPatient } from './patient-user';

const ERROR_KEY = 'oauthError';
const ERROR_EVENTS = ['grant.error', 'authorization.error', 'introspection.error', 'revocation.error', 'end_session.error', 'server_error'];

/** Routes whose refusals are audited, and as what. */
const AUDITED_ROUTES: Readonly<Record<string, AuthEventKind>> = {
  authorization: 'authorize', resume: 'authorize', token: 'token', revocation: 'revoke', introspection: 'introspect',
};

interface ErrorBody { error?: string; error_description?: string }
const isErrorBody = (b: unknown): b is ErrorBody => typeof b === 'object' && b !== null && 'error' in b;

/** Where a token's events belong: its clinic claim, its grant's clinic, or the client's clinic. */
async function clinicOf(db: Knex, cfg: Config, ctx: KoaContext, token?: BaseToken): Promise<string | null> {
  const claimed = token?.extra?.[cfg.clinicClaim];
  if (typeof claimed === 'string') return claimed;
  if (token?.grantId) {
    const g = await grantContext(db, token.grantId);
    if (g) return g.clinicId;
  }
  const clinic = ctx.oidc?.client?.metadata().clinic_id;
  return typeof clinic === 'string' ? clinic : null;
}

function describe(err: OIDCProviderError | undefined, body: ErrorBody): string {
  const detail = err?.error_detail ? ` (${err.error_detail})` : err?.scope ? ` (refused: ${err.scope})` : '';
  return `${body.error}: ${body.error_description ?? ''}${detail}`.slice(0, 400);
}

/**
 * Around every oidc-provider request: keeps the error oidc-provider raised (for its detail), names
 * refusals by their RFC 6749 code, adds SMART's `patient` to token responses, and audits token
 * issuance, refresh, revocation, logout and every refusal, before the response leaves.
 */
export function protocolHooks(provider: Provider, cfg: Config, db: Knex): Middleware {
  for (const event of ERROR_EVENTS) {
    provider.on(event, (ctx: KoaContext, err: OIDCProviderError) => { ctx.state[ERROR_KEY] = err; });
  }
  return async (ctx, next) => {
    await next();
    const oidc = ctx.oidc;
    if (!oidc?.route) return;
    const body = ctx.body;
    const err = ctx.state[ERROR_KEY] as OIDCProviderError | undefined;
    const clientId = oidc.client?.clientId;
    const grantType = typeof oidc.params?.grant_type === 'string' ? oidc.params.grant_type : undefined;

    if (isErrorBody(body) || err) {
      const errorBody: ErrorBody = isErrorBody(body) ? body : { error: err?.error, error_description: err?.error_description };
      // RFC 6749 §5.2: a grant type the client is not registered for is unauthorized_client.
      if (errorBody.error === 'invalid_request' && /grant type is not allowed for this client/.test(errorBody.error_description ?? '')) {
        errorBody.error = 'unauthorized_client';
      }
      const kind = oidc.route === 'token' && grantType === 'refresh_token' ? 'refresh' : AUDITED_ROUTES[oidc.route];
      if (kind) {
        const token = oidc.entities.RefreshToken ?? oidc.entities.AuthorizationCode;
        await recordAuthEvent(db, {
          kind, outcome: err?.status && err.status >= 500 ? '8' : '4', reason: describe(err, errorBody),
          clinicId: await clinicOf(db, cfg, ctx, token), userId: token?.accountId, clientId,
          scope: typeof oidc.params?.scope === 'string' ? oidc.params.scope : undefined,
        }).catch((e: unknown) => currentRequest()?.log.error({ err: e }, 'audit of an OAuth refusal failed'));
      }
      return;
    }

    if (oidc.route === 'token' && ctx.status === 200) {
      const at = oidc.entities.ClientCredentials ?? oidc.entities.AccessToken;
      if (!at) return;
      const patient = at.extra?.patient;
      // A patient's own token: the response names the patient/ scopes its JWT carries (provider.ts).
      const confine = (scope: string) => (speaksForPatient(at.extra ?? {}) ? confineToPatient(scope) : scope);
      if (typeof body === 'object' && body !== null) {
        const response = body as Record<string, unknown>;
        if (typeof patient === 'string') response.patient = patient;
        // SMART's `scope` lists everything granted; oidc-provider lists only the FHIR resource's scopes.
        const identity = oidc.entities.Grant?.getOIDCScope() ?? '';
        response.scope = confine([...new Set([...identity.split(' '), ...String(response.scope ?? '').split(' ')])].filter(Boolean).join(' '));
      }
      await recordAuthEvent(db, {
        kind: grantType === 'refresh_token' ? 'refresh' : 'token', outcome: '0', reason: `access token issued (${grantType})`,
        clinicId: await clinicOf(db, cfg, ctx, at), userId: at.accountId ?? at.clientId, clientId,
        scope: confine(at.scope ?? ''), tokenId: at.jti, patientId: typeof patient === 'string' ? patient : undefined,
      });
    } else if (oidc.route === 'revocation') {
      const token = oidc.entities.AccessToken ?? oidc.entities.ClientCredentials ?? oidc.entities.RefreshToken;
      if (!token) return;
      await recordAuthEvent(db, {
        kind: 'revoke', outcome: '0', reason: `${token.kind} revoked${token.kind === 'RefreshToken' ? ' with its family' : ''}`,
        clinicId: await clinicOf(db, cfg, ctx, token), userId: token.accountId ?? token.clientId, clientId, tokenId: token.jti,
      });
    } else if (oidc.route === 'end_session_confirm' && oidc.session?.accountId) {
      const userId = oidc.session.accountId;
      const clinics = await asAuthServer(db, (trx) => activeClinicIds(trx, userId));
      await recordAuthEventInClinics(db, clinics, { kind: 'logout', outcome: '0', reason: 'signed out', userId });
    }
  };
}

