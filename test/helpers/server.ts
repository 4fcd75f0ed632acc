import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import supertest from 'supertest';
import { freePort } from '../../db/embedded';
import { createClinic, createUser } from '../../server/admin/tenancy';
import { mintAccessToken, type TokenRequest } from '../../server/auth/tokens';
import { startServer, type RunningServer } from '../../server/boot';
import { loadConfig } from '../../server/config';

let running: Promise<RunningServer> | undefined;
let adminKnex: Knex | undefined;
let dataDir: string | undefined;

/** The shared server: a throwaway DATA_DIR, embedded PostgreSQL on a free port, random HTTP port. */
export function testServer(): Promise<RunningServer> {
  running ??= (async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-test-'));
    fs.chmodSync(dataDir, 0o755);
    const cfg = loadConfig({
      DATA_DIR: dataDir, PORT: '0', EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'silent',
      BASE_URL: 'http://fhir.test', DB_POOL_MAX: '8',
      // Tests seal when they mean to (sealer.sealNow()); the timer only starts the first round.
      AUDIT_SEAL_INTERVAL_MS: '60000',
      // The limiter stays in the path of every request, with limits no test's load reaches: the
      // load tests (32 writers for 30 s) pass the default 1 200 a minute per user on a fast machine.
      // test/ops/rate-limit.test.ts checks the limits on a server of its own.
      RATE_LIMIT_PER_USER: '1000000', RATE_LIMIT_PER_ADDRESS: '1000000',
    });
    return startServer(cfg);
  })();
  return running;
}

export async function stopTestServer(): Promise<void> {
  if (!running) return;
  const s = await running;
  await adminKnex?.destroy();
  await s.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  running = undefined;
}

/** The migration account's connection: for fixtures and for checking what RLS shows to whom. */
export async function admin(): Promise<Knex> {
  const s = await testServer();
  adminKnex ??= knexFactory({ client: 'pg', connection: s.db.adminUrl, pool: { min: 0, max: 4 } });
  return adminKnex;
}

export async function api(): Promise<supertest.Agent> {
  return supertest.agent((await testServer()).server);
}

export async function newClinic(name = 'Clinic'): Promise<string> {
  return (await createClinic(await admin(), `${name} ${Math.random().toString(36).slice(2, 8)}`)).id;
}

export async function newUser(clinicId: string, role: string): Promise<string> {
  const email = `${role}.${Math.random().toString(36).slice(2, 10)}@test.example`;
  return (await createUser(await admin(), { clinicId, email, role })).id;
}

export async function tokenFor(req: TokenRequest): Promise<string> {
  const s = await testServer();
  return mintAccessToken(s.keys[0], { issuer: s.cfg.tokenIssuer, audience: s.cfg.tokenAudience, clinicClaim: s.cfg.clinicClaim }, req);
}

/** A clinic with a user of `role` and a bearer header for it. */
export async function actor(role: string, scope = 'user/*.cruds', clinicId?: string, patientId?: string) {
  const clinic = clinicId ?? await newClinic();
  const user = await newUser(clinic, role);
  const token = await tokenFor({ clinicId: clinic, userId: user, scope, patientId });
  return { clinic, user, token, auth: { Authorization: `Bearer ${token}` } };
}

export const FHIR = 'application/fhir+json';

export function patientBody(family = 'Smith', extra: Record<string, unknown> = {}) {
  return { resourceType: 'Patient', name: [{ family, given: ['Ann'] }], gender: 'female', birthDate: '1980-04-12', ...extra };
}
