import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Knex } from 'knex';
import { ADMIN_ROLE } from '../../db/roles';
import type { SigningKey } from '../auth/keys';
import { cliOperator, PRIVILEGED, type PrivilegedActor, writePrivileged } from '../audit/privileged';
import { asAuthServer } from './auth-db';
import { sealJwk, unsealJwk } from './sealed-secrets';

interface KeyRow { kid: string; alg: string; private_jwk: JWK | string; signs_from: Date; retire_at: Date | null }

/** Longest life of anything we sign (app access tokens, id tokens), plus clock skew. */
export const MAX_SIGNED_LIFETIME_S = 3600 + 300;

export type SigningAlg = SigningKey['alg'];

/** ES256 signs access tokens (and ID tokens on request); RS256 signs ID tokens (SMART sso-openid-connect). */
const ALGS: readonly SigningAlg[] = ['ES256', 'RS256'];

async function toSigningKey(privateJwk: JWK): Promise<SigningKey> {
  const alg: SigningAlg = privateJwk.kty === 'RSA' ? 'RS256' : 'ES256';
  const privateKey = crypto.createPrivateKey({ key: privateJwk as crypto.JsonWebKey, format: 'jwk' });
  const publicKey = crypto.createPublicKey(privateKey);
  const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg, privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' } };
}

async function newKeyRow(alg: SigningAlg, privateJwk?: JWK): Promise<{ kid: string; alg: string; private_jwk: string; public_jwk: string }> {
  const jwk = privateJwk ?? await exportJWK((await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) })).privateKey);
  const key = await toSigningKey(jwk);
  return { kid: key.kid, alg: key.alg, private_jwk: sealJwk(jwk), public_jwk: JSON.stringify(key.publicJwk) };
}

/**
 * The server's token signing keys, shared by every node through the database. Every published key
 * verifies; the newest one whose `signs_from` has passed signs. Rotation publishes the new key before
 * it signs and keeps the old one published until everything it signed has expired.
 */
export class KeyRing {
  private keys: SigningKey[] = [];
  private signer: SigningKey | undefined;
  private idTokenSigner: SigningKey | undefined;
  private loadedAt = 0;
  private fingerprint = '';

  /** Changes whenever the published set or the signer changes (providers rebuild on it). */
  get version(): string {
    return this.fingerprint;
  }

  constructor(private readonly db: Knex) {}

  /** Every published key, the access-token signing key first and the RS256 one that signs next. */
  all(): SigningKey[] {
    const first = [this.signer, this.idTokenSigner].filter((k): k is SigningKey => k !== undefined);
    return [...first, ...this.keys.filter((k) => !first.includes(k))];
  }

  signing(): SigningKey {
    if (!this.signer) throw new Error('no signing key loaded');
    return this.signer;
  }

  /** A published key by kid; an unknown kid reloads at most every 10 s (another node may have rotated). */
  async find(kid: string | undefined): Promise<SigningKey | undefined> {
    const hit = this.keys.find((k) => k.kid === kid);
    if (hit || typeof kid !== 'string' || Date.now() - this.loadedAt < 10_000) return hit;
    await this.reload();
    return this.keys.find((k) => k.kid === kid);
  }

  /** Reads the published keys; true when the set or the signer changed. */
  async reload(): Promise<boolean> {
    const rows = await asAuthServer(this.db, (trx) => trx<KeyRow>('oauth_signing_key')
      .where((q) => q.whereNull('retire_at').orWhere('retire_at', '>', trx.fn.now()))
      .orderBy('signs_from', 'desc').orderBy('created_at', 'desc')
      .select('kid', 'alg', 'private_jwk', 'signs_from', 'retire_at'));
    this.loadedAt = Date.now();
    const keys = await Promise.all(rows.map((r) => toSigningKey(unsealJwk(r.private_jwk) as JWK)));
    const now = Date.now();
    const signerOf = (alg: SigningAlg) => {
      const ofAlg = rows.filter((r) => r.alg === alg);
      return ofAlg.find((r) => r.signs_from.getTime() <= now) ?? ofAlg[ofAlg.length - 1];
    };
    const signerRow = signerOf('ES256');
    const rsaRow = signerOf('RS256');
    const fingerprint = `${signerRow?.kid}|${rsaRow?.kid}|${rows.map((r) => r.kid).join(',')}`;
    const changed = fingerprint !== this.fingerprint;
    this.keys = keys;
    this.signer = keys.find((k) => k.kid === signerRow?.kid);
    this.idTokenSigner = keys.find((k) => k.kid === rsaRow?.kid);
    this.fingerprint = fingerprint;
    return changed;
  }
}

/** Creates the first key of each algorithm when there is none; a key left in DATA_DIR by an earlier version is imported. */
async function ensureFirstKey(trx: Knex.Transaction, dataDir: string): Promise<void> {
  for (const alg of ALGS) {
    if (await trx('oauth_signing_key').where({ alg }).first('kid')) continue;
    const legacyFile = path.join(dataDir, 'keys', 'signing-es256.json');
    const legacy = alg === 'ES256' && fs.existsSync(legacyFile) ? JSON.parse(fs.readFileSync(legacyFile, 'utf8')) as JWK : undefined;
    // Two nodes starting together may both get here: the first insert wins, the other is a no-op.
    await trx('oauth_signing_key').insert({ ...(await newKeyRow(alg, legacy)), signs_from: trx.raw("now() - interval '1 second'") }).onConflict('kid').ignore();
  }
}

/** Loads the key ring (creating the first key if needed), so tokens signed earlier keep verifying. */
export async function loadKeyRing(db: Knex, dataDir: string): Promise<KeyRing> {
  await asAuthServer(db, (trx) => ensureFirstKey(trx, dataDir));
  const ring = new KeyRing(db);
  await ring.reload();
  return ring;
}

/** The current signing key, read by the admin CLI (which mints tokens the servers accept). */
export async function loadSigningKeyAsAdmin(admin: Knex, dataDir: string): Promise<SigningKey> {
  return admin.transaction(async (trx) => {
    await trx.raw(`set local role ${ADMIN_ROLE}`);
    await ensureFirstKey(trx, dataDir);
    const row = await trx<KeyRow>('oauth_signing_key').where({ alg: 'ES256' }).where('signs_from', '<=', trx.fn.now())
      .where((q) => q.whereNull('retire_at').orWhere('retire_at', '>', trx.fn.now()))
      .orderBy('signs_from', 'desc').first('private_jwk');
    if (!row) throw new Error('no signing key is active yet');
    return toSigningKey(unsealJwk(row.private_jwk) as JWK);
  });
}

/**
 * Rotation (admin CLI): a new key of each algorithm is published now and signs after
 * `propagateSeconds` (every node reloads its keys at least that often); the keys they replace stay
 * published until what they signed has expired. `kid` names the new access-token (ES256) key.
 */
export async function rotateSigningKey(admin: Knex, propagateSeconds = 120, actor: PrivilegedActor = { operator: cliOperator() }): Promise<{ kid: string; signsFrom: string; retiring: string[] }> {
  return admin.transaction(async (trx) => {
    await trx.raw(`set local role ${ADMIN_ROLE}`);
    const rows = await Promise.all(ALGS.map((alg) => newKeyRow(alg)));
    const [inserted] = await trx('oauth_signing_key')
      .insert(rows.map((row) => ({ ...row, signs_from: trx.raw(`now() + make_interval(secs => ?)`, [propagateSeconds]) })))
      .returning(['kid', 'alg', 'signs_from']);
    const retiring = await trx('oauth_signing_key').whereNotIn('kid', rows.map((r) => r.kid)).whereNull('retire_at')
      .update({ retire_at: trx.raw(`now() + make_interval(secs => ?)`, [propagateSeconds + MAX_SIGNED_LIFETIME_S]) })
      .returning(['kid', 'retire_at']) as Array<{ kid: string; retire_at: Date }>;
    // A server-wide change: recorded with the server's own events (no clinic).
    await writePrivileged(trx, actor, [{
      subtype: PRIVILEGED.softwareConfiguration, action: 'C', object: 'SigningKey', id: String(inserted.kid), clinicIds: [], summary: 'signing key rotated',
      new: {
        kid: inserted.kid, alg: inserted.alg, signsFrom: inserted.signs_from, privateKey: rows.find((r) => r.kid === inserted.kid)?.private_jwk,
        keys: rows.map((r) => ({ kid: r.kid, alg: r.alg, privateKey: r.private_jwk })),
        retiring: retiring.map((r) => ({ kid: r.kid, retireAt: r.retire_at })),
      },
    }]);
    return { kid: inserted.kid as string, signsFrom: new Date(inserted.signs_from).toISOString(), retiring: retiring.map((r) => r.kid) };
  });
}
