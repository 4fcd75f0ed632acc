import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { newTotpSecret } from '../../server/oauth/credentials';
import { sealSecretsAtRest } from '../../server/oauth/sealed-secrets';
import { currentKeyId, masterKeyPath, useSecretKeys } from '../../server/oauth/secret-box';
import { admin, testServer } from '../helpers/server';
import { authorizationCode, exchange, fhirRead } from './flows';
import { publicClient, staffFixture } from './helpers';
import { ScriptedBrowser } from './scripted-browser';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const REDIRECT = 'https://app.example/cb';

/** What a dump of the secret-holding tables shows: every column, as text, read by the migration account. */
async function dump(): Promise<string> {
  const db = await admin();
  const rows = await Promise.all(['oauth_signing_key', 'user_credential', 'oauth_secret'].map((t) => db.raw(`select to_jsonb(t)::text as row from ${t} t`)));
  return rows.flatMap((r) => (r.rows as Array<{ row: string }>).map((x) => x.row)).join('\n');
}

async function sealedValues(): Promise<string[]> {
  const db = await admin();
  const { rows } = await db.raw(`select private_jwk #>> '{}' as v from oauth_signing_key
    union all select totp_secret from user_credential where totp_secret is not null
    union all select value from oauth_secret`);
  return (rows as Array<{ v: string }>).map((r) => r.v);
}

/** Signs in with password and TOTP over HTTP, gets a token signed by the server, and reads a patient with it. */
async function signInAndRead(staff: Awaited<ReturnType<typeof staffFixture>>, clientId: string, step: number): Promise<number> {
  const flow = await authorizationCode(new ScriptedBrowser(), staff, clientId, REDIRECT, { step });
  expect(flow.code, String(flow.error)).to.not.equal('');
  const token = await exchange(clientId, REDIRECT, flow.code, flow.pkce.verifier);
  expect(token.status, token.text).to.equal(200);
  expect(token.json.patient).to.be.oneOf(staff.patients);
  return fhirRead(String(token.json.access_token), `Patient/${String(token.json.patient)}`);
}

describe('Secrets at rest: sealed with a key that is not in the database', function () {
  this.timeout(90_000);

  it('a dump of the key, credential and secret tables holds no private key, TOTP seed or cookie secret in plain', async () => {
    const s = await testServer();
    const staff = await staffFixture('doctor');
    const text = await dump();
    expect(text).to.not.match(/"d"\s*:/); // a JWK's private scalar
    expect(text).to.not.include('PRIVATE KEY');
    expect(text).to.not.include(staff.secret);
    for (const secret of [...s.oauthSecrets.cookieKeys, s.oauthSecrets.csrfSecret, s.oauthSecrets.pageSecret]) expect(text).to.not.include(secret);
    for (const v of await sealedValues()) expect(v).to.match(new RegExp(`^v1:${currentKeyId()}:`));
    // The key that opens them lives outside the database, readable by the server's user only.
    expect(fs.statSync(masterKeyPath(s.cfg.dataDir)).mode & 0o077).to.equal(0);
  });

  it('secrets stored in plain by an earlier version are sealed at the next start, and sign-in with TOTP still works', async () => {
    const s = await testServer();
    const staff = await staffFixture('doctor');
    const clientId = await publicClient(staff.clinic, REDIRECT);
    const plain = newTotpSecret();
    const db = await admin();
    await db('user_credential').where({ user_id: staff.user }).update({ totp_secret: plain, totp_last_step: null });
    await db('oauth_secret').insert({ name: `legacy-${Date.now()}`, value: 'x'.repeat(40) });
    await sealSecretsAtRest(s.db.runtime, s.cfg);
    const row = await db('user_credential').where({ user_id: staff.user }).first('totp_secret');
    expect(row.totp_secret).to.match(/^v1:/);
    expect(await dump()).to.not.include(plain).and.not.include('x'.repeat(40));
    expect(await signInAndRead({ ...staff, secret: plain }, clientId, 0)).to.equal(200);
  });

  it('secrets rotate-key re-seals every secret with a new key; the old key file can then be removed', async () => {
    const s = await testServer();
    const staff = await staffFixture('doctor');
    const clientId = await publicClient(staff.clinic, REDIRECT);
    const before = currentKeyId();
    const env = { ...process.env, DATA_DIR: s.cfg.dataDir, EMBEDDED_PG_PORT: String(s.cfg.embeddedPgPort), BASE_URL: s.cfg.baseUrl, LOG_LEVEL: 'silent' };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/admin.ts'), 'secrets', 'rotate-key'], { env, cwd: ROOT });
    const out = JSON.parse(stdout) as { kid: string; retired: string; resealed: Record<string, number> };
    expect(out.retired).to.equal(before);
    expect(out.kid).to.not.equal(before);
    expect(out.resealed.signingKeys).to.be.greaterThan(0);
    expect(out.resealed.totpSeeds).to.be.greaterThan(0);
    expect(out.resealed.sharedSecrets).to.be.greaterThan(0);
    for (const v of await sealedValues()) expect(v).to.match(new RegExp(`^v1:${out.kid}:`));

    // The operator removes the old key; this node reloads what is on disk and works with the new key alone.
    fs.rmSync(`${masterKeyPath(s.cfg.dataDir)}.${before}`);
    expect(useSecretKeys(s.cfg)).to.equal(out.kid);
    await s.keyRing.reload();
    expect(await signInAndRead(staff, clientId, 1)).to.equal(200);
  });
});
