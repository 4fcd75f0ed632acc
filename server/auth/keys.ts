import type crypto from 'node:crypto';
import type { JWK } from 'jose';

/** A token signing key of this server (the ring of them lives in the database: oauth/signing-keys.ts). */
export interface SigningKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  publicJwk: JWK;
}

export function jwks(keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}
