import type { Knex } from 'knex';
import { resealAll } from '../oauth/sealed-secrets';
import { rotateKeyFile, type SecretKeySettings } from '../oauth/secret-box';
import { asAdmin } from './tenancy';

/**
 * `secrets rotate-key`: a new sealing key becomes current (the key file; with SECRETS_KEY, the one
 * the key manager now gives, the old one in SECRETS_KEY_PREVIOUS), every secret is re-sealed with
 * it in one transaction, and the old key is kept until the operator removes it.
 */
export async function rotateSecretsKey(admin: Knex, settings: SecretKeySettings) {
  const rotated = rotateKeyFile(settings);
  const resealed = await asAdmin(admin, resealAll);
  return {
    kid: rotated.kid,
    resealed,
    ...(rotated.retiredFile
      ? { retired: rotated.retired, next: `every secret is sealed with ${rotated.kid}; once every node has read the new key file (nodes reload it on the first secret sealed with a key they do not know), remove ${rotated.retiredFile}` }
      : { next: 'every secret is sealed with SECRETS_KEY; remove SECRETS_KEY_PREVIOUS from every node' }),
  };
}
