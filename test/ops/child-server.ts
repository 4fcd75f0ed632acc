import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { adminConnection } from '../../db';
import { freePort } from '../../db/embedded';
import { adminSigningKey } from '../../server/admin/oauth';
import { createClinic, createUser } from '../../server/admin/tenancy';
import { mintAccessToken } from '../../server/auth/tokens';
import { loadConfig } from '../../server/config';
import { useSecretKeys } from '../../server/oauth/secret-box';
import { testServer } from '../helpers/server';

const ROOT = path.resolve(__dirname, '..', '..');

/** `npm start`'s entry as a child process with its own DATA_DIR and embedded PostgreSQL, and a way in. */
export interface ChildServer {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  admin: Knex;
  /** A bearer header of a doctor at a fresh clinic. */
  auth: Record<string, string>;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM, wait, then SIGKILL and stop a PostgreSQL left behind; removes the DATA_DIR. */
  close(): Promise<void>;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

export async function startChildServer(env: Record<string, string> = {}): Promise<ChildServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-ops-'));
  fs.chmodSync(dataDir, 0o755);
  const [port, pgPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  // Sealed secrets are read in this process too (the signing key below): the child seals with the key this process holds.
  // The child seals its secrets with a key of its own, which this process uses only to read its signing key.
  const secretsKey = crypto.randomBytes(32).toString('base64');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server', 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), BASE_URL: url, WORKERS: '1', LOG_LEVEL: 'info', SECRETS_KEY: secretsKey, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let admin: Knex | undefined;
  const close = async () => {
    await admin?.destroy().catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 40_000);
      await exited;
      clearTimeout(t);
    }
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
    const pgPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
    if (Number.isInteger(pgPid) && pgPid > 0 && alive(pgPid)) {
      process.kill(pgPid, 'SIGINT');
      for (let i = 0; i < 100 && alive(pgPid); i++) await new Promise((r) => setTimeout(r, 100));
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 120_000;
    while (!/FHIR R4 server ready/.test(out)) {
      if (child.exitCode !== null) throw new Error(`the server exited before it was ready:\n${out.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error('the server did not start within 120 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const cfg = loadConfig({ DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), BASE_URL: url, LOG_LEVEL: 'silent' });
    admin = knexFactory({ client: 'pg', connection: (await adminConnection(cfg)).url, pool: { min: 0, max: 2 } });
    const clinicId = (await createClinic(admin, `Ops ${Math.random().toString(36).slice(2, 8)}`)).id;
    const userId = (await createUser(admin, { clinicId, email: `ops.${Math.random().toString(36).slice(2, 10)}@test.example`, role: 'doctor' })).id;
    useSecretKeys({ dataDir, secretsKey });
    const key = await adminSigningKey(admin, dataDir).finally(async () => { useSecretKeys((await testServer()).cfg); });
    const token = await mintAccessToken(key, { issuer: cfg.tokenIssuer, audience: cfg.tokenAudience, clinicClaim: cfg.clinicClaim }, { clinicId, userId, scope: 'user/*.cruds' });
    return { url, port, pid: child.pid as number, dataDir, admin, auth: { Authorization: `Bearer ${token}` }, output: () => out, exited, close };
  } catch (err) {
    await close();
    throw err;
  }
}
