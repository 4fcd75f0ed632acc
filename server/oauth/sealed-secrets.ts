import type { Knex } from 'knex';
import { asAuthServer } from './auth-db';
import { seal, sealedWithCurrent, type SecretKeySettings, unseal, useSecretKeys } from './secret-box';

/** What each sealed column's ciphertext is bound to (AES-GCM additional data): a value cannot be moved to another column. */
export const PURPOSE = {
  signingKey: 'oauth_signing_key.private_jwk',
  totp: 'user_credential.totp_secret',
  shared: 'oauth_secret.value',
} as const;

/** A signing key's private JWK as stored: sealed (a JSON string) or, from before sealing, the JWK object. */
export function unsealJwk(stored: unknown): Record<string, unknown> {
  return typeof stored === 'string' ? JSON.parse(unseal(stored, PURPOSE.signingKey)) as Record<string, unknown> : stored as Record<string, unknown>;
}

export const sealJwk = (jwk: object): string => JSON.stringify(seal(JSON.stringify(jwk), PURPOSE.signingKey));

/**
 * Seals every secret not yet sealed with the current key: plaintext rows from before sealing (at
 * boot) and rows of a retired key (rotation). Idempotent; a row changed meanwhile is left to the next run.
 */
export async function resealAll(trx: Knex.Transaction): Promise<{ signingKeys: number; totpSeeds: number; sharedSecrets: number }> {
  let signingKeys = 0;
  for (const r of await trx('oauth_signing_key').select('kid', 'private_jwk') as Array<{ kid: string; private_jwk: unknown }>) {
    if (typeof r.private_jwk === 'string' && sealedWithCurrent(r.private_jwk)) continue;
    signingKeys += await trx('oauth_signing_key').where({ kid: r.kid }).update({ private_jwk: sealJwk(unsealJwk(r.private_jwk)) });
  }
  let totpSeeds = 0;
  for (const r of await trx('user_credential').whereNotNull('totp_secret').select('user_id', 'totp_secret') as Array<{ user_id: string; totp_secret: string }>) {
    if (sealedWithCurrent(r.totp_secret)) continue;
    totpSeeds += await trx('user_credential').where({ user_id: r.user_id, totp_secret: r.totp_secret })
      .update({ totp_secret: seal(unseal(r.totp_secret, PURPOSE.totp), PURPOSE.totp) });
  }
  let sharedSecrets = 0;
  for (const r of await trx('oauth_secret').select('name', 'value') as Array<{ name: string; value: string }>) {
    if (sealedWithCurrent(r.value)) continue;
    sharedSecrets += await trx('oauth_secret').where({ name: r.name, value: r.value })
      .update({ value: seal(unseal(r.value, PURPOSE.shared), PURPOSE.shared) });
  }
  return { signingKeys, totpSeeds, sharedSecrets };
}

/** At start, after migrations: loads the sealing keys and seals what is not yet sealed with the current one (once per deployment start). */
export async function sealSecretsAtRest(db: Knex, settings: SecretKeySettings, { reseal = true } = {}): Promise<void> {
  useSecretKeys(settings);
  if (reseal) await asAuthServer(db, resealAll);
}
