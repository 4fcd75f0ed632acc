import crypto from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKey } from './keys';

export interface TokenRequest {
  clinicId: string;
  userId: string;
  scope: string;
  patientId?: string;
  fhirUser?: string;
  clientId?: string;
  ttlSeconds?: number;
}

/** Mints an access token signed by the server's key (the admin CLI and the tests use it). */
export async function mintAccessToken(key: SigningKey, opts: { issuer: string; audience: string; clinicClaim: string }, req: TokenRequest): Promise<string> {
  const ttl = req.ttlSeconds ?? 3600;
  const claims: Record<string, unknown> = { [opts.clinicClaim]: req.clinicId, scope: req.scope };
  if (req.patientId) claims.patient = req.patientId;
  if (req.fhirUser) claims.fhirUser = req.fhirUser;
  if (req.clientId) claims.client_id = req.clientId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(opts.issuer)
    .setAudience(opts.audience)
    .setSubject(req.userId)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
    .sign(key.privateKey);
}
