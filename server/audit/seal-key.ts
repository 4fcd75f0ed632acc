import crypto from 'node:crypto';
import { persistentSecret } from '../../db/secrets';
import { jcs } from './canonical';

/** PKCS#8 DER of an Ed25519 private key is this prefix and the 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The key that signs audit checkpoints. It never enters the database: AUDIT_SEAL_KEY (from a key
 * manager) or a seed generated into DATA_DIR/secrets on first start. A superuser who rewrites the
 * seal inside the database cannot make a signature that verifies.
 */
export interface SealKey {
  keyId: string;
  publicKey: crypto.KeyObject;
  /** The public key as a JWK (OKP, Ed25519), for outside verifiers. */
  publicJwk: crypto.JsonWebKey;
  sign(statement: string): Buffer;
  verify(statement: string, signature: Buffer): boolean;
}

export function sealKeyFromSeed(seedBase64: string): SealKey {
  const seed = Buffer.from(seedBase64, /[+/=]/.test(seedBase64) ? 'base64' : 'base64url');
  if (seed.length !== 32) throw new Error('the audit seal key must be 32 bytes');
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = crypto.createPublicKey(privateKey);
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const keyId = crypto.createHash('sha256').update(spki).digest('base64url').slice(0, 22);
  return {
    keyId,
    publicKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid: keyId, use: 'sig', alg: 'EdDSA' } as crypto.JsonWebKey,
    sign: (statement) => crypto.sign(null, Buffer.from(statement, 'utf8'), privateKey),
    verify: (statement, signature) => {
      try {
        return crypto.verify(null, Buffer.from(statement, 'utf8'), publicKey, signature);
      } catch {
        return false;
      }
    },
  };
}

/** The configured key, or the one kept in DATA_DIR (generated on first start; several processes may race to it). */
export function loadSealKey(dataDir: string, configured?: string): SealKey {
  if (configured) return sealKeyFromSeed(configured);
  try {
    return sealKeyFromSeed(persistentSecret(dataDir, 'audit-seal-key'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return sealKeyFromSeed(persistentSecret(dataDir, 'audit-seal-key'));
  }
}

/** What a checkpoint signs: the clinic's chain at a size, as canonical JSON. */
export interface CheckpointFacts {
  clinicId: string;
  treeSize: number;
  head: Buffer;
  sealedAt: string;
  keyId: string;
}

export function checkpointStatement(c: CheckpointFacts): string {
  return jcs({ chain: 'clinic-fhir audit v1', clinic: c.clinicId, size: c.treeSize, head: c.head.toString('hex'), sealedAt: c.sealedAt, keyId: c.keyId });
}

/** The chain: head(0) is 32 zero bytes, head(n) = SHA-256(head(n-1) || hash of row n). */
export const CHAIN_START = Buffer.alloc(32);
export function chainNext(head: Buffer, rowHash: Buffer): Buffer {
  return crypto.hash('sha256', Buffer.concat([head, rowHash]), 'buffer');
}
