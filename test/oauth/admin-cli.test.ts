import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { exportJWK, generateKeyPair } from 'jose';
import { newClinic } from '../helpers/server';
import { adminCli, jsonOf } from '../helpers/cli';


async function cli(...args: string[]) {
  const r = await adminCli(args);
  return { ...r, out: r.code === 0 ? jsonOf(r) : {} };
}

describe('Admin CLI for the authorization server', function () {
  this.timeout(60_000);

  it('creates a staff user with a password, enrols TOTP, registers clients, lists, disables and unlocks', async () => {
    const clinic = await newClinic('CLI OAuth');
    const user = await cli('user', 'create', '--clinic', clinic, '--email', `cli.oauth.${Date.now()}@test.example`, '--role', 'doctor', '--password', 'a long enough password');
    expect(user.out).to.include({ password: 'set' });
    const mfa = await cli('user', 'mfa-enroll', '--user', String(user.out.id));
    expect(mfa.out.secret).to.match(/^[A-Z2-7]{16,}$/);
    expect(mfa.out.otpauthUri).to.match(/^otpauth:\/\/totp\//);
    expect((await cli('user', 'unlock', '--user', String(user.out.id))).code).to.equal(0);

    const app = await cli('client', 'create', '--clinic', clinic, '--name', 'CLI App', '--type', 'public',
      '--redirect-uri', 'https://app.example/cb', 'https://app.example/cb2', '--scope', 'openid launch/patient patient/*.rs');
    expect(app.out.clientId).to.be.a('string');
    const { publicKey } = await generateKeyPair('ES384', { extractable: true });
    const file = path.join(os.tmpdir(), `jwks-${Date.now()}.json`);
    fs.writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384' }] }));
    const backend = await cli('client', 'create', '--clinic', clinic, '--name', 'CLI Backend', '--type', 'confidential-asymmetric',
      '--scope', 'system/Patient.rs', '--jwks-file', file, '--role', 'doctor');
    expect(backend.out).to.include({ role: 'doctor' });
    const list = await adminCli(['client', 'list', '--clinic', clinic]);
    const clients = JSON.parse(list.stdout) as Array<{ id: string; redirectUris: string[] }>;
    expect(clients.map((c) => c.id)).to.have.members([app.out.clientId, backend.out.clientId]);
    expect(clients.find((c) => c.id === app.out.clientId)?.redirectUris).to.deep.equal(['https://app.example/cb', 'https://app.example/cb2']);
    expect((await cli('client', 'disable', '--client', String(backend.out.clientId))).out).to.include({ disabled: true });
  });

  it('refuses a system/ client without --role, a public client with keys, and a short password, with exit code 2', async () => {
    const clinic = await newClinic('CLI OAuth refusals');
    const noRole = await cli('client', 'create', '--clinic', clinic, '--name', 'X', '--type', 'confidential-asymmetric', '--scope', 'system/Patient.rs', '--jwks-url', 'https://keys.example/jwks');
    expect(noRole.code).to.equal(2);
    expect(noRole.stderr).to.match(/--role is required/);
    const publicKeys = await cli('client', 'create', '--clinic', clinic, '--name', 'X', '--type', 'public', '--scope', 'openid', '--redirect-uri', 'https://a.example/cb', '--jwks-url', 'https://keys.example/jwks');
    expect(publicKeys.code).to.equal(2);
    const weak = await cli('user', 'create', '--clinic', clinic, '--email', `weak.${Date.now()}@test.example`, '--role', 'doctor', '--password', 'short');
    expect(weak.code).to.equal(2);
    expect(weak.stderr).to.match(/at least 12/);
  });
});
