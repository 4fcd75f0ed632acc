import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { persistentSecret } from '../../db/secrets';

/**
 * Secrets at rest (signing keys, TOTP seeds, shared cookie/CSRF/page secrets) are sealed with
 * AES-256-GCM under a key that is never in the database: SECRETS_KEY (from a key manager), or
 * DATA_DIR/secrets/master.key (generated on first start, mode 0600). A sealed value names its key,
 * `v1:<kid>:<iv>:<tag>:<ciphertext>`, so a rotation can re-seal row by row while both keys are known.
 */
export interface SecretKeySettings {
  dataDir: string;
  /** base64 of 32 bytes; unset: the key file under DATA_DIR. */
  secretsKey?: string;
  /** Keys a rotation is moving away from (readable, never used to seal). */
  secretsKeysPrevious?: string[];
}

/** Where the key file lives; retired ones sit beside it as `master.key.<kid>` until removed. */
export const MASTER_KEY_FILE = 'master.key';
export const masterKeyPath = (dataDir: string) => path.join(dataDir, 'secrets', MASTER_KEY_FILE);

const PREFIX = 'v1';

export class SecretKeyError extends Error {}

function decodeKey(text: string, what: string): Buffer {
  const key = Buffer.from(text.trim(), /^[A-Za-z0-9_-]+$/.test(text.trim()) ? 'base64url' : 'base64');
  if (key.length !== 32) throw new SecretKeyError(`${what} is invalid: expected 32 bytes, base64-encoded`);
  return key;
}

export const keyId = (key: Buffer): string => crypto.createHash('sha256').update(key).digest('hex').slice(0, 16);

interface Keys { current: Buffer; currentKid: string; known: Map<string, Buffer> }

function readKeys(s: SecretKeySettings): Keys {
  const current = s.secretsKey ? decodeKey(s.secretsKey, 'SECRETS_KEY') : decodeKey(persistentSecret(s.dataDir, MASTER_KEY_FILE), masterKeyPath(s.dataDir));
  const known = new Map<string, Buffer>([[keyId(current), current]]);
  for (const old of s.secretsKeysPrevious ?? []) { const k = decodeKey(old, 'SECRETS_KEY_PREVIOUS'); known.set(keyId(k), k); }
  const dir = path.dirname(masterKeyPath(s.dataDir));
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).filter((n) => n.startsWith(`${MASTER_KEY_FILE}.`))) {
      const k = decodeKey(fs.readFileSync(path.join(dir, f), 'utf8'), path.join(dir, f));
      known.set(keyId(k), k);
    }
  }
  return { current, currentKid: keyId(current), known };
}

let settings: SecretKeySettings | undefined;
let keys: Keys | undefined;

/** Loads the sealing keys (creating the key file on first start); the server and the admin CLI call it once. */
export function useSecretKeys(s: SecretKeySettings): string {
  settings = s;
  keys = readKeys(s);
  return keys.currentKid;
}

function loaded(): Keys {
  if (!keys) throw new SecretKeyError('secret keys are not loaded (useSecretKeys)');
  return keys;
}

export const currentKeyId = (): string => loaded().currentKid;


export function seal(plain: string, purpose: string): string {
  const { current, currentKid } = loaded();
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', current, iv);
  cipher.setAAD(Buffer.from(purpose));
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [PREFIX, currentKid, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join(':');
}

export const isSealed = (stored: string): boolean => stored.startsWith(`${PREFIX}:`);
export const sealedWithCurrent = (stored: string): boolean => stored.startsWith(`${PREFIX}:${loaded().currentKid}:`);

/** The plaintext of a sealed value; an unsealed one (written before sealing existed) is returned as is. */
export function unseal(stored: string, purpose: string): string {
  if (!isSealed(stored)) return stored;
  const [, kid, iv, tag, ct] = stored.split(':');
  let key = loaded().known.get(kid);
  if (!key && settings) {
    // Another process may have rotated the key file since this one started.
    useSecretKeys(settings);
    key = loaded().known.get(kid);
  }
  if (!key) throw new SecretKeyError(`a secret is sealed with key ${kid}, which this node does not have (SECRETS_KEY, SECRETS_KEY_PREVIOUS or DATA_DIR/secrets/${MASTER_KEY_FILE})`);
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(purpose));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}

/**
 * Key-file rotation, step one: the current key file is kept as `master.key.<kid>` and a new key
 * becomes master.key. With SECRETS_KEY the key manager holds the keys: nothing changes on disk.
 */
export function rotateKeyFile(s: SecretKeySettings): { kid: string; retired?: string; retiredFile?: string } {
  if (s.secretsKey) return { kid: useSecretKeys(s) };
  const file = masterKeyPath(s.dataDir);
  const old = decodeKey(persistentSecret(s.dataDir, MASTER_KEY_FILE), file);
  const retiredFile = `${file}.${keyId(old)}`;
  fs.writeFileSync(retiredFile, old.toString('base64url'), { mode: 0o600 });
  const tmp = `${file}.new`;
  fs.writeFileSync(tmp, crypto.randomBytes(32).toString('base64url'), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return { kid: useSecretKeys(s), retired: keyId(old), retiredFile };
}
