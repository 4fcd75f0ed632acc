import crypto from 'node:crypto';
import type { Request } from 'express';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader } from 'jose';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy, type VerifiedCallback } from 'passport-jwt';
import type { Config } from '../config';
import type { AccessContext } from './access-context';
import { isUuid } from '../http/ids';
import type { SigningKey } from './keys';
import { parseScopes } from './scopes';

/** Why a token was refused, and who it claimed to be when its signature was good. */
export interface AuthFailure {
  reason: string;
  /** Set only when the signature verified (expired, wrong audience...): the user is known. */
  knownUser?: { userId: string; clinicId: string; clientId?: string };
}

type Claims = Record<string, unknown>;
const CLOCK_TOLERANCE = 5;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Our own published signing keys (a database-backed ring shared by every node). */
export interface OwnKeys { find(kid: string | undefined): Promise<SigningKey | undefined> }

/**
 * Registers the `jwt` passport strategy: our own keys, or the configured external issuer's JWKS.
 * `isRevoked` denies our own tokens revoked before they expire (RFC 7009).
 */
export function configurePassport(cfg: Config, ownKeys: OwnKeys, isRevoked?: (jti: string) => Promise<boolean>): passport.Authenticator {
  const external = cfg.external;
  const remote = external ? createRemoteJWKSet(new URL(external.jwksUrl), { cacheMaxAge: 10 * 60_000 }) : undefined;
  const strategy = new JwtStrategy(
    {
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: ['ES256', 'RS256'],
      issuer: external ? [cfg.tokenIssuer, external.issuer] : cfg.tokenIssuer,
      audience: external ? [cfg.tokenAudience, external.audience] : cfg.tokenAudience,
      jsonWebTokenOptions: { clockTolerance: CLOCK_TOLERANCE },
      secretOrKeyProvider: (_req: Request, raw: string, done: (err: unknown, key?: string | Buffer) => void) => {
        try {
          const header = decodeProtectedHeader(raw);
          // We implement no JWS extension, so any critical one is unknown to us (RFC 7515 4.1.11).
          if (header.crit !== undefined) return done(new Error(BEFORE_SIGNATURE.crit));
          const claims = decodeJwt(raw);
          if (claims.iss === cfg.tokenIssuer) {
            ownKeys.find(header.kid)
              // Only the ES256 keys sign access tokens; the RS256 one signs ID tokens, never accepted here.
              .then((own) => (own?.alg === 'ES256' ? done(null, own.publicKey.export({ type: 'spki', format: 'pem' })) : done(new Error(BEFORE_SIGNATURE.key))))
              .catch(() => done(new Error(BEFORE_SIGNATURE.key)));
            return;
          }
          if (remote && external && claims.iss === external.issuer) {
            remote({ alg: header.alg, kid: header.kid })
              .then((k) => done(null, crypto.KeyObject.from(k as crypto.webcrypto.CryptoKey).export({ type: 'spki', format: 'pem' })))
              .catch(() => done(new Error(BEFORE_SIGNATURE.key)));
            return;
          }
          return done(new Error(BEFORE_SIGNATURE.issuer));
        } catch {
          return done(new Error(BEFORE_SIGNATURE.malformed));
        }
      },
    },
    (payload: Claims, done: VerifiedCallback) => {
      // Tokens of each issuer must be meant for us under that issuer's own audience.
      const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
      const expectedAud = payload.iss === cfg.tokenIssuer ? cfg.tokenAudience : external?.audience;
      if (!aud.includes(expectedAud)) return done(null, false, { message: 'audience invalid' });
      const lifetime = lifetimeProblem(cfg, payload);
      if (lifetime) return done(null, false, { message: lifetime });
      const ctx = toAccessContext(cfg, payload);
      if (typeof ctx === 'string') return done(null, false, { message: ctx });
      if (!isRevoked || payload.iss !== cfg.tokenIssuer || !ctx.tokenId) return done(null, ctx);
      isRevoked(ctx.tokenId)
        .then((revoked) => (revoked ? done(null, false, { message: 'token revoked' }) : done(null, ctx)))
        .catch((err: unknown) => done(err));
    },
  );
  // One authenticator per app: two apps in one process (tests) must not share a strategy.
  const pp = new passport.Passport();
  pp.use('jwt', strategy);
  return pp;
}

/**
 * Refusals decided before the signature is checked: the claims are unverified, so they name nobody
 * (their audit must not land in a clinic an attacker picked).
 */
const BEFORE_SIGNATURE = {
  crit: 'unsupported critical header', key: 'unknown signing key', issuer: 'unknown issuer', malformed: 'malformed token',
} as const;

/** Every token must expire; ours may not live longer than MAX_TOKEN_LIFETIME (clock skew allowed). */
function lifetimeProblem(cfg: Config, p: Claims): string | undefined {
  if (typeof p.exp !== 'number' || !Number.isFinite(p.exp)) return 'token has no exp claim';
  if (p.iss !== cfg.tokenIssuer) return undefined;
  const now = Math.floor(Date.now() / 1000);
  const issued = typeof p.iat === 'number' && Number.isFinite(p.iat) ? Math.min(p.iat, now) : now;
  if (p.exp - issued > cfg.maxTokenLifetime + CLOCK_TOLERANCE) return `token lifetime claim (exp - iat) exceeds ${cfg.maxTokenLifetime} s`;
  return undefined;
}

function toAccessContext(cfg: Config, p: Claims): AccessContext | string {
  const userId = str(p.sub);
  const clinicId = str(p[cfg.clinicClaim]);
  if (!isUuid(userId)) return 'token subject is not a user of this server';
  if (!isUuid(clinicId)) return `token has no valid ${cfg.clinicClaim} claim`;
  const patient = str(p.patient);
  if (patient !== undefined && !isUuid(patient)) return 'token patient claim is not a patient id';
  const scopeText = typeof p.scope === 'string' ? p.scope : Array.isArray(p.scp) ? p.scp.join(' ') : '';
  const tokenId = str(p.jti);
  return {
    userId,
    clinicId,
    patientId: patient,
    clientId: str(p.client_id) ?? str(p.azp),
    fhirUser: str(p.fhirUser),
    tokenId,
    // Our own tokens can be revoked: withClinic checks them in the request's first statement.
    ...(p.iss === cfg.tokenIssuer && tokenId ? { revocable: true } : {}),
    scopes: parseScopes(scopeText).resource,
    scopeText,
  };
}

/** Who a refused token named, when its signature verified (jsonwebtoken checks the signature first). */
export function knownUserOf(cfg: Config, req: Request, info: unknown): AuthFailure {
  const message = info instanceof Error ? info.message : typeof info === 'object' && info && 'message' in info ? String((info as { message: unknown }).message) : 'invalid token';
  const reason = /No auth token/i.test(message) ? 'missing bearer token' : message;
  const name = info instanceof Error ? info.name : '';
  const unverified = (Object.values(BEFORE_SIGNATURE) as string[]).includes(message);
  const signatureGood = !unverified && (name === 'TokenExpiredError' || name === 'NotBeforeError' || /audience|issuer|subject|claim|patient|revoked/.test(message));
  if (!signatureGood) return { reason };
  try {
    const raw = ExtractJwt.fromAuthHeaderAsBearerToken()(req);
    const claims = raw ? decodeJwt(raw) : {};
    const userId = str(claims.sub);
    const clinicId = str(claims[cfg.clinicClaim]);
    if (isUuid(userId) && isUuid(clinicId)) return { reason, knownUser: { userId, clinicId, clientId: str(claims.client_id) } };
  } catch { /* an undecodable token names nobody */ }
  return { reason };
}
