import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

export interface SigningKey {
  kid: string;
  alg: 'ES256';
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  publicJwk: JWK;
}

/**
 * The server's own token signing key: generated into DATA_DIR/keys on first start (mode 0600) and
 * reused after. Its public half is served at /.well-known/jwks.json.
 */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const dir = path.join(dataDir, 'keys');
  const file = path.join(dir, 'signing-es256.json');
  let jwk: JWK;
  try {
    jwk = JSON.parse(fs.readFileSync(file, 'utf8')) as JWK;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    jwk = await exportJWK(privateKey);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  }
  const privateKey = crypto.createPrivateKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' });
  const publicKey = crypto.createPublicKey(privateKey);
  const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg: 'ES256', privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' } };
}

export function jwks(keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}
