import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/**
 * Secrets the zero-setup mode generates on first start and keeps under DATA_DIR (mode 0600),
 * so restarts reuse them. Production sets them through the environment instead.
 */
export function persistentSecret(dataDir: string, name: string, bytes = 32): string {
  const dir = path.join(dataDir, 'secrets');
  const file = path.join(dir, name);
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // DATA_DIR itself must stay traversable: the embedded cluster runs as the `postgres` system user.
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const value = crypto.randomBytes(bytes).toString('base64url');
  fs.writeFileSync(file, value, { mode: 0o600, flag: 'wx' });
  return value;
}
