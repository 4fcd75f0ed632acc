import type { Knex } from 'knex';
import { resealAll } from '../oauth/sealed-secrets';
import { PRIVILEGED, type PrivilegedActor } from '../audit/privileged';
import { rotateKeyFile, type SecretKeySettings } from '../oauth/secret-box';
import { defaultActor, privileged } from './changes';

/**
 * `secrets rotate-key`: a new sealing key becomes current (the key file; with SECRETS_KEY, the one
 * the key manager now gives, the old one in SECRETS_KEY_PREVIOUS), every secret is re-sealed with
 * it in one transaction, and the old key is kept until the operator removes it.
 */
export async function rotateSecretsKey(admin: Knex, settings: SecretKeySettings, actor: PrivilegedActor = defaultActor()) {
  const rotated = rotateKeyFile(settings);
  const resealed = await privileged(admin, actor, async (trx, changes) => {
    const counts = await resealAll(trx);
    // A server-wide change: recorded with the server's own events (no clinic); the keys themselves never leave the key file.
    changes.push({
      subtype: PRIVILEGED.softwareConfiguration, action: 'U', object: 'SecretsKey', id: rotated.kid, clinicIds: [], summary: 'secrets sealing key rotated',
      old: { kid: rotated.retired ?? null }, new: { kid: rotated.kid, resealed: counts },
    });
    return counts;
  });
  return {
    kid: rotated.kid,
    resealed,
    ...(rotated.retiredFile
      ? { retired: rotated.retired, next: `every secret is sealed with ${rotated.kid}; once every node has read the new key file (nodes reload it on the first secret sealed with a key they do not know), remove ${rotated.retiredFile}` }
      : { next: 'every secret is sealed with SECRETS_KEY; remove SECRETS_KEY_PREVIOUS from every node' }),
  };
}
