import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { freePort, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../db/embedded';
import { createClinic, createUser } from '../../server/admin/tenancy';
import { mintAccessToken } from '../../server/auth/tokens';
import { startServer, type RunningServer } from '../../server/boot';
import { loadConfig } from '../../server/config';
import { FHIR, patientBody } from '../helpers/server';

interface Answer { status: number; retryAfter: string | null; id?: string; at: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ops: PostgreSQL restarts under write load', function () {
  this.timeout(180_000);
  // A server of its own on a PostgreSQL this test owns (DATABASE_URL), so restarting it touches no other test.
  let dataDir: string;
  let pgDir: string;
  let pgPort: number;
  let pg: EmbeddedPostgresHandle | undefined;
  let server: RunningServer | undefined;
  let admin: Knex | undefined;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-restart-'));
    fs.chmodSync(dataDir, 0o755);
    pgDir = path.join(dataDir, 'pg');
    pgPort = await freePort();
    pg = await startEmbeddedPostgres({ dir: pgDir, port: pgPort, quiet: true });
    // Rate limits off: one user writes as fast as six connections allow, and on a fast machine that
    // passes the default 1 200 a minute; a 429 would then hide what this test looks for.
    server = await startServer(loadConfig({
      DATA_DIR: dataDir, PORT: '0', DATABASE_URL: pg.adminUrl, LOG_LEVEL: process.env.RESTART_LOG ?? 'silent', BASE_URL: 'http://fhir.test', DB_POOL_MAX: '8',
      RATE_LIMIT_PER_USER: '0', RATE_LIMIT_PER_ADDRESS: '0',
    }));
    admin = knexFactory({ client: 'pg', connection: pg.adminUrl, pool: { min: 0, max: 2 } });
  });

  after(async () => {
    await admin?.destroy().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('every acknowledged create is readable and audited, the outage answers 503 with Retry-After (never 500), and service recovers on its own', async () => {
    const s = server as RunningServer;
    const clinicId = (await createClinic(admin as Knex, `Restart ${Date.now()}`)).id;
    const userId = (await createUser(admin as Knex, { clinicId, email: `restart.${Date.now()}@test.example`, role: 'doctor' })).id;
    const token = await mintAccessToken(s.keys[0], { issuer: s.cfg.tokenIssuer, audience: s.cfg.tokenAudience, clinicClaim: s.cfg.clinicClaim }, { clinicId, userId, scope: 'user/*.cruds' });
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': FHIR };

    const answers: Answer[] = [];
    let running = true;
    const writer = async () => {
      // Bounded: at most 2,000 creates per writer, and it stops when told.
      for (let i = 0; running && i < 2_000; i++) {
        const res = await fetch(`${s.url}/fhir/Patient`, { method: 'POST', headers, body: JSON.stringify(patientBody('Restart')) });
        const body = await res.json() as { id?: string; resourceType?: string };
        answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), id: res.status === 201 ? body.id : undefined, at: Date.now() });
        if (res.status !== 201) expect(body.resourceType).to.equal('OperationOutcome');
        if (res.status === 503) await sleep(20);
      }
    };
    const writers = Array.from({ length: 6 }, writer);

    await sleep(1_000);
    const stopAt = Date.now();
    await (pg as EmbeddedPostgresHandle).stop();
    await sleep(500); // down for a moment: requests meanwhile must be refused as unavailable
    pg = await startEmbeddedPostgres({ dir: pgDir, port: pgPort, quiet: true });
    const upAt = Date.now();
    // Keep writing until service is back, then a little longer.
    const deadline = Date.now() + 30_000;
    while (!answers.some((a) => a.at > upAt && a.status === 201) && Date.now() < deadline) await sleep(10);
    await sleep(500);
    running = false;
    await Promise.all(writers);

    const firstBack = answers.find((a) => a.at > upAt && a.status === 201);
    expect(firstBack, 'a create succeeds again after PostgreSQL is back').to.not.equal(undefined);
    const failures = answers.filter((a) => a.status !== 201);
    expect(failures.filter((a) => a.status !== 503).map((a) => a.status), 'every failed write answers 503').to.deep.equal([]);
    expect(failures.length, 'some writes met the outage').to.be.greaterThan(0);
    expect(failures.every((a) => a.retryAfter === '1'), 'each 503 says Retry-After: 1').to.equal(true);

    const acknowledged = answers.filter((a) => a.status === 201).map((a) => a.id as string);
    const a = admin as Knex;
    const stored = await a('patient').whereIn('id', acknowledged).pluck('id');
    expect(new Set(stored).size, 'every acknowledged create is readable').to.equal(acknowledged.length);
    const audited = await a('audit_event').where({ subtype: 'create', entity_type: 'Patient', outcome: '0' }).whereIn('entity_id', acknowledged).pluck('entity_id');
    expect(new Set(audited).size, 'every acknowledged create has its AuditEvent').to.equal(acknowledged.length);
    // And through the API, as a client would check.
    const sample = acknowledged.filter((_, i) => i % Math.ceil(acknowledged.length / 20) === 0);
    for (const id of sample) expect((await fetch(`${s.url}/fhir/Patient/${id}`, { headers })).status).to.equal(200);

    process.stdout.write(`      ${acknowledged.length} creates acknowledged, ${failures.length} answered 503; down ${upAt - stopAt} ms (stop, 500 ms, start); first 201 ${(firstBack as Answer).at - upAt} ms after PostgreSQL was up\n`);
  });
});
