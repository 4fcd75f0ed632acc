/**
 * `npm run bench`: starts the server on the embedded defaults in a throwaway DATA_DIR, loads a
 * synthetic dataset, drives six scenarios (the last: the compliance console) with autocannon and the same SQL straight through `pg`
 * (the floor), then the same requests against a naive `node:http` + `pg` service (the naive floor),
 * prints a table and the targets, writes it as JSON, cleans up. Any error fails the run (exit 1).
 * See README "Benchmark" for the flags.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decodeJwt } from 'jose';
import knexFactory from 'knex';
import { adminConnection, localSocketUrl, runtimeUrl } from '../db';
import { mintAccessToken } from '../server/auth/tokens';
import { loadConfig } from '../server/config';
import { useSecretKeys } from '../server/oauth/secret-box';
import { CONSOLE_CLIENT_ID, CONSOLE_SCOPE } from '../server/oauth/first-party';
import { sealSession, SESSION_COOKIE } from '../server/console/session';
import { loadSigningKeyAsAdmin } from '../server/oauth/signing-keys';
import { persistentSecret } from '../db/secrets';
import { type ExportResult, measureExport } from './bench/export';
import { driveFloor } from './bench/floor-load';
import { driveHttp } from './bench/http-load';
import { ensureNaiveAuditTable } from './bench/naive-floor';
import { type NaiveFloorProcess, startNaiveFloor } from './bench/naive-floor-process';
import { formatSummary, profilesIn, summarizeProfile } from './bench/profile';
import { machine, type ScenarioResult, scaling, table, targets, writeJson } from './bench/report';
import { type BenchClinic, buildScenarios, type Scenario, SCENARIO_KEYS, type ScenarioKey } from './bench/scenarios';
import { type ServerProcess, startServerProcess } from './bench/server-process';
import { type SealLag, sealLag, waitForSeal } from './bench/seal';
import { describeRun, type SealCost, sealCostLines, sealCosts, sealRun, type SealRun } from './bench/seal-cost';
import { type DatasetSize, generateDataset, type GeneratedClinic, SIZE_FLAGS, sizeFromFlags } from './generate';

const USAGE = `usage: npm run bench -- [options]
  dataset   --clinics 2 --patients 100000 --appointments 200000 --medication-requests 200000 --audit-events 5000000 --seed 1
  load      --connections 32 --duration 20 --warmup 5 --scenarios read,search,appointments,create,audit,console --no-floor --no-naive
            (--scenarios export, alone or added: a Bulk Data export of every clinic's patients, with the server's RSS before, peak, after)
  server    --server-env KEY=VALUE (repeatable, e.g. DB_POOL_MAX=24) --cpu-prof DIR (V8 profile of the server)
            --keep (keep the data directory) --reuse DIR (measure a kept dataset again; no loading)
  target    --url http://host:port --token T [--audit-token T] [--floor-db postgres://runtime-login...] (no dataset is loaded, no naive floor)
  seal      --seal-cost (after the scenarios: read and create on two servers at once, AUDIT_SEAL=true on the
            data and AUDIT_SEAL=false on a copy of it, --seal-rounds 8 windows each; 16 for a verdict)
  output    --out bench-results/bench-<time>.json
            --compare EARLIER.json (scaling check: throughput per scenario against a run on a smaller dataset, <= 20 % lost)`;

const DEFAULT_SIZE: DatasetSize = { clinics: 2, patients: 100_000, appointments: 200_000, medicationRequests: 200_000, auditEvents: 5_000_000, seed: 1 };

const { values: flags } = parseArgs({
  options: {
    ...SIZE_FLAGS,
    connections: { type: 'string', default: '32' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    scenarios: { type: 'string', default: SCENARIO_KEYS.join(',') },
    'no-floor': { type: 'boolean', default: false },
    'no-naive': { type: 'boolean', default: false },
    'server-env': { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    'audit-token': { type: 'string' },
    'floor-db': { type: 'string' },
    out: { type: 'string' },
    compare: { type: 'string' },
    'seal-cost': { type: 'boolean', default: false },
    'seal-rounds': { type: 'string', default: '8' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} ${raw} is invalid: expected a whole number`);
  return n;
}

function scenarioKeys(raw: string): ScenarioKey[] {
  const keys = raw.split(',').map((k) => k.trim()).filter(Boolean);
  for (const k of keys) if (!(SCENARIO_KEYS as readonly string[]).includes(k)) throw new Error(`--scenarios: unknown scenario ${k} (known: ${SCENARIO_KEYS.join(', ')})`);
  return keys as ScenarioKey[];
}

/** Patient ids of the clinic a token reaches, through the API (target mode). */
async function discoverPatients(url: string, token: string, max: number): Promise<string[]> {
  const ids: string[] = [];
  let next: string | undefined = `${url}/fhir/Patient?_count=1000&_elements=id`;
  while (next && ids.length < max) {
    const res = await fetch(next, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`listing patients at ${url} answered ${res.status}`);
    const bundle = await res.json() as { entry?: Array<{ resource?: { id?: string } }>; link?: Array<{ relation: string; url: string }> };
    for (const e of bundle.entry ?? []) if (e.resource?.id) ids.push(e.resource.id);
    next = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  if (!ids.length) throw new Error('the token sees no patients: load some first (npm run seed)');
  return ids;
}

const actorOf = (token: string, role: string) => {
  const c = decodeJwt(token);
  return { clinicId: String(c.clinic), userId: String(c.sub), role, tokenId: String(c.jti) };
};

const MANIFEST = 'bench-dataset.json';
/** Whether the measured server seals its audit trail (AUDIT_SEAL=false measures what sealing costs). */
const sealing = (env: Record<string, string>) => (env.AUDIT_SEAL ?? process.env.AUDIT_SEAL ?? 'true') !== 'false';

/** Console sessions of a clinic's compliance officer, sealed with the server's key, fresh at each request (so none idles out). */
function consoleCookie(clinicId: string, userId: string): () => string {
  const sid = crypto.randomUUID();
  const signedInAt = Date.now();
  return () => {
    const session = { sid, userId, clinicId, clientId: CONSOLE_CLIENT_ID, scope: CONSOLE_SCOPE, label: 'bench', signedInAt, seenAt: Date.now() };
    return `${SESSION_COOKIE}=${encodeURIComponent(sealSession(session))}`;
  };
}

/** Embedded mode: server, dataset (generated, or the one kept in `reuse`) and tokens. */
async function embedded(
  size: DatasetSize, serverEnv: Record<string, string>, cpuProf: string | undefined, reuse: string | undefined, onStart: (s: ServerProcess) => void,
): Promise<{ server: ServerProcess; clinics: BenchClinic[]; clinicsFor: (url: string) => Promise<BenchClinic[]>; floorDb: string; size: DatasetSize; poolMax: number; adminUrl: string }> {
  const server = await startServerProcess({
    env: serverEnv,
    nodeArgs: cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(cpuProf)] : [],
    ...(reuse ? { dataDir: path.resolve(reuse) } : {}),
  });
  onStart(server);
  try {
    process.stderr.write(`server ${server.url} (pid ${server.pid}), data in ${server.dataDir}\n`);
    const cfg = loadConfig({ DATA_DIR: server.dataDir, EMBEDDED_PG_PORT: String(server.pgPort), LOG_LEVEL: 'silent' });
    // The server's pool size, as its environment sets it: the naive floor gets the same.
    const poolMax = loadConfig({ ...process.env, ...serverEnv, DATA_DIR: server.dataDir }).dbPoolMax;
    const conn = await adminConnection(cfg);
    const manifest = path.join(server.dataDir, MANIFEST);
    let generated: GeneratedClinic[];
    if (reuse) {
      ({ size, clinics: generated } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { size: DatasetSize; clinics: GeneratedClinic[] });
    } else {
      generated = await generateDataset(conn.url, size);
      // Kept with --keep, so a later run can measure the same dataset again (--reuse DIR).
      fs.writeFileSync(manifest, JSON.stringify({ size, clinics: generated }));
    }
    const admin = knexFactory({ client: 'pg', connection: conn.url, pool: { min: 0, max: 1 } });
    // The signing key is sealed at rest: read it with the server's sealing key (its DATA_DIR, or SECRETS_KEY).
    useSecretKeys(loadConfig({ ...process.env, DATA_DIR: server.dataDir }));
    const key = await loadSigningKeyAsAdmin(admin, server.dataDir).finally(() => admin.destroy());
    // A token names the server it is for (issuer, audience): each server of a run gets its own.
    const clinicsFor = async (url: string): Promise<BenchClinic[]> => {
      const mint = (clinicId: string, userId: string, scope: string) => mintAccessToken(key, {
        issuer: url, audience: `${url}/fhir`, clinicClaim: 'clinic',
      }, { clinicId, userId, scope, ttlSeconds: 3600 });
      const out: BenchClinic[] = [];
      for (const g of generated) {
        const doctorToken = await mint(g.id, g.doctorId, 'user/*.cruds');
        const officerToken = await mint(g.id, g.complianceOfficerId, 'user/AuditEvent.rs');
        const officerCookie = consoleCookie(g.id, g.complianceOfficerId);
        out.push({ doctorToken, officerToken, officerCookie, patientIds: g.patientIds, doctor: actorOf(doctorToken, 'doctor'), officer: actorOf(officerToken, 'compliance-officer') });
      }
      return out;
    };
    const clinics = await clinicsFor(server.url);
    // The floor connects as the server's pool does: the runtime login, over the same socket.
    const floorDb = runtimeUrl(await localSocketUrl(conn.url), cfg.dbRuntimeUser, persistentSecret(server.dataDir, 'db-runtime-password'));
    if (!flags['no-naive']) await ensureNaiveAuditTable(conn.url);
    if (sealing(serverEnv)) await waitForSeal(conn.url, (s) => process.stderr.write(s));
    return { server, clinics, clinicsFor, floorDb, size, poolMax, adminUrl: conn.url };
  } catch (err) {
    await server.stop(flags.keep);
    throw err;
  }
}

/**
 * Before a seal-cost run: what the previous run left is finished first, so no run pays for
 * another's work. After a run with the seal off its rows have no hash: the server hashes them at
 * start (an UPDATE each) and seals them; the dead row versions those updates leave are vacuumed
 * here rather than by autovacuum inside the next measured window.
 */
async function settle(server: ServerProcess, sealed: boolean): Promise<void> {
  const cfg = loadConfig({ DATA_DIR: server.dataDir, EMBEDDED_PG_PORT: String(server.pgPort), LOG_LEVEL: 'silent' });
  const { url } = await adminConnection(cfg);
  if (sealed) await waitForSeal(url, (s) => process.stderr.write(s), 10 * 60_000);
  const db = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  try {
    await db.raw('vacuum (analyze)');
    await db.raw('checkpoint');
  } finally {
    await db.destroy();
  }
}

async function main(): Promise<number> {
  if (flags.help) { process.stdout.write(`${USAGE}\n`); return 0; }
  let size = sizeFromFlags(flags, DEFAULT_SIZE);
  const load = {
    connections: positive('connections', flags.connections),
    seconds: positive('duration', flags.duration),
    warmup: positive('warmup', flags.warmup),
  };
  const requested = flags.scenarios.split(',').map((k) => k.trim());
  const wantsExport = requested.includes('export');
  const keys = scenarioKeys(requested.filter((k) => k !== 'export').join(','));
  const serverEnv = Object.fromEntries(flags['server-env'].map((kv) => {
    const i = kv.indexOf('=');
    if (i < 1) throw new Error(`--server-env ${kv} is invalid: expected KEY=VALUE`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  }));
  const host = machine();
  const started = new Date();

  let server: ServerProcess | undefined;
  let naive: NaiveFloorProcess | undefined;
  const stopServer = async () => {
    await naive?.stop();
    naive = undefined;
    if (!server) return;
    const s = server;
    server = undefined;
    await s.stop(flags.keep);
    if (flags.keep && !flags.reuse) process.stderr.write(`kept: ${s.dataDir} (server stopped; measure it again with --reuse ${s.dataDir})\n`);
  };
  // Ctrl-C at any point still stops the server and its PostgreSQL and removes the data.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void stopServer().finally(() => process.exit(130)); });
  let url: string;
  let clinics: BenchClinic[];
  let clinicsFor: ((url: string) => Promise<BenchClinic[]>) | undefined;
  let floorDb: string | undefined;
  let adminUrl: string | undefined;
  if (flags.url) {
    if (!flags.token) throw new Error('--url needs --token (a token that may read, search and create Patient)');
    url = flags.url.replace(/\/$/, '');
    const auditToken = flags['audit-token'] ?? flags.token;
    floorDb = flags['floor-db'];
    clinics = [{
      doctorToken: flags.token, officerToken: auditToken, patientIds: await discoverPatients(url, flags.token, 20_000),
      ...(floorDb ? { doctor: actorOf(flags.token, 'doctor'), officer: actorOf(auditToken, 'compliance-officer') } : {}),
    }];
  } else {
    const e = await embedded(size, serverEnv, flags['cpu-prof'], flags.reuse, (s) => { server = s; });
    url = e.server.url; clinics = e.clinics; clinicsFor = e.clinicsFor; floorDb = e.floorDb; size = e.size; adminUrl = e.adminUrl;
    if (!flags['no-naive']) {
      naive = await startNaiveFloor({ dbUrl: e.floorDb, poolMax: e.poolMax });
      process.stderr.write(`naive floor ${naive.url} (pid ${naive.pid}), pool of ${e.poolMax}\n`);
    }
  }

  const results: ScenarioResult[] = [];
  let seal: SealLag | undefined;
  let sealCost: SealCost[] | undefined;
  let sealRuns: SealRun[] | undefined;
  const measuredFrom = new Date();
  let exported: ExportResult | undefined;
  try {
    for (const s of buildScenarios(clinics, keys)) {
      process.stderr.write(`${s.title}: ${load.warmup} s warm-up, ${load.seconds} s measured, ${load.connections} connections ...`);
      const cpu = { server: server?.pid, postgres: server?.pgPid };
      const measured = await driveHttp(url, s.http, { ...load, rssPid: server?.pid, cpu });
      const result: ScenarioResult = { key: s.key, title: s.title, server: measured };
      process.stderr.write(` ${measured.rps.toFixed(0)} req/s`);
      if (s.floor && floorDb && !flags['no-floor']) {
        result.floor = await driveFloor(floorDb, s.floor, { ...load, cpu: { postgres: server?.pgPid } });
        result.ratio = measured.rps / result.floor.rps;
        process.stderr.write(`, floor ${result.floor.rps.toFixed(0)} req/s`);
      }
      if (naive && !s.noNaive) {
        // Same requests, same load; its process and PostgreSQL are watched as the server's are.
        result.naive = await driveHttp(naive.url, s.http, { ...load, rssPid: naive.pid, cpu: { server: naive.pid, postgres: server?.pgPid } });
        result.naiveRatio = measured.rps / result.naive.rps;
        result.naiveP99Ratio = measured.p99 / result.naive.p99;
        process.stderr.write(`, naive floor ${result.naive.rps.toFixed(0)} req/s`);
      }
      process.stderr.write('\n');
      results.push(result);
    }
    if (wantsExport) {
      process.stderr.write('export: Patient/$export of every clinic, each file downloaded ...\n');
      exported = await measureExport(url, clinics, server?.pid);
    }
    if (adminUrl && sealing(serverEnv)) {
      // Every row the scenarios wrote, and how long it waited for its signed checkpoint.
      await waitForSeal(adminUrl, (s) => process.stderr.write(s), 10 * 60_000);
      seal = await sealLag(adminUrl, measuredFrom);
    }
    if (flags['seal-cost'] && server && adminUrl && clinicsFor) {
      // The same build with hashing and sealing on and off, side by side: two servers, each on its own
      // copy of the same data (each stays in one mode), driven by the same load in the same windows,
      // so whatever else the machine does in a window weighs on both alike.
      const dataDir = server.dataDir;
      await server.stop(true);
      server = undefined;
      const offDir = `${dataDir}-seal-off`;
      process.stderr.write(`seal cost: copying the data for the server with the seal off (${offDir}) ...\n`);
      execFileSync('cp', ['-a', dataDir, offDir]);
      // Its object store gets a port of its own (the kept one is the sealed server's).
      fs.rmSync(path.join(offDir, 'embedded-s3-port'), { force: true });
      // The copy's dirty pages are written out now, not by the kernel during a measured window.
      execFileSync('sync');
      const runs: SealRun[] = [];
      const pair: ServerProcess[] = [];
      try {
        for (const on of [true, false]) {
          const s = await startServerProcess({ env: { ...serverEnv, AUDIT_SEAL: String(on) }, dataDir: on ? dataDir : offDir });
          pair.push(s);
          await settle(s, on);
        }
        const [sealed, unsealed] = pair;
        const tokens = [await clinicsFor(sealed.url), await clinicsFor(unsealed.url)];
        const drive = (s: ServerProcess, scenario: Scenario) =>
          driveHttp(s.url, scenario.http, { ...load, rssPid: s.pid, cpu: { server: s.pid, postgres: s.pgPid } });
        for (let round = 1; round <= positive('seal-rounds', flags['seal-rounds']); round++) {
          for (const key of ['read', 'create'] as ScenarioKey[]) {
            // Each server its own scenario state (patient rotation), the same requests.
            const [a] = buildScenarios(tokens[0], [key]);
            const [b] = buildScenarios(tokens[1], [key]);
            const [mOn, mOff] = await Promise.all([drive(sealed, a), drive(unsealed, b)]);
            for (const r of [sealRun(true, key, round, mOn), sealRun(false, key, round, mOff)]) {
              process.stderr.write(`round ${round}: ${describeRun(a.title, r)}\n`);
              runs.push(r);
            }
          }
        }
      } finally {
        // The copy goes; the sealed data stays only when asked to (--keep, --reuse).
        for (const s of pair) await s.stop(true);
        fs.rmSync(offDir, { recursive: true, force: true });
        if (!flags.keep && !flags.reuse) fs.rmSync(dataDir, { recursive: true, force: true });
      }
      const failed = runs.reduce((n, r) => n + r.errors, 0);
      if (failed) throw new Error(`seal cost: ${failed} requests failed; the comparison is void`);
      sealCost = sealCosts(runs);
      sealRuns = runs;
    }
  } finally {
    await stopServer();
  }

  host.loadAfter = (await import('node:os')).loadavg().map((l) => Math.round(l * 100) / 100);
  const errors = results.reduce((n, r) => n + r.server.errors + (r.floor?.errors ?? 0) + (r.naive?.errors ?? 0), 0);
  const report = {
    startedAt: started.toISOString(), seconds: Math.round((Date.now() - started.getTime()) / 1000), machine: host,
    target: flags.url ? url : 'embedded (npm start defaults)', dataset: flags.url ? undefined : size, load,
    serverEnv, results, seal, sealCost, sealRuns, ...(exported ? { export: exported } : {}), targets: [
      ...sealCostLines(sealCost ?? []),
      ...targets(results),
      ...(seal ? [`${seal.p99 <= 10 ? 'met' : 'MISSED'}: seal lag p99 ${seal.p99.toFixed(2)} s (p50 ${seal.p50.toFixed(2)} s, max ${seal.max.toFixed(2)} s, ${seal.rows} rows) <= 10 s`] : []),
      ...(flags.compare ? scaling(results, JSON.parse(fs.readFileSync(flags.compare, 'utf8')), flags.url ? undefined : size.patients) : []),
    ],
  };
  if (results.length) process.stdout.write(`\n${table(results)}\n`);
  if (report.targets.length) process.stdout.write(`\n${report.targets.join('\n')}\n`);
  if (exported) {
    const mb = (v?: number) => (v === undefined ? '?' : v.toFixed(0));
    process.stdout.write(`\nexport: ${exported.resources} resources in ${exported.files} files, ${exported.seconds.toFixed(1)} s; server RSS ${mb(exported.rssBeforeMb)} MB before, ${mb(exported.rssPeakMb)} MB peak, ${mb(exported.rssAfterMb)} MB after\n`);
  }
  for (const r of results) {
    const samples = [...r.server.errorSamples, ...(r.floor?.errorSamples ?? []).map((e) => `floor: ${e}`), ...(r.naive?.errorSamples ?? []).map((e) => `naive floor: ${e}`)];
    if (samples.length) process.stdout.write(`errors in ${r.title}: ${samples.join(', ')}\n`);
  }
  const file = writeJson(flags.out ?? path.join('bench-results', `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`), report);
  process.stdout.write(`\nJSON: ${file}\n`);
  if (flags['cpu-prof'] && !flags.url) {
    // The server writes its profile as it exits (stopServer above): where its CPU time went.
    for (const f of profilesIn(path.resolve(flags['cpu-prof']))) process.stdout.write(`\n${formatSummary(summarizeProfile(f))}\n`);
  }
  if (errors) process.stdout.write(`FAILED: ${errors} errors\n`);
  return errors ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`\nbench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
