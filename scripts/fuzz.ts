import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { freePort } from '../db/embedded';
import { mintAccessToken } from '../server/auth/tokens';
import { startServer } from '../server/boot';
import { loadConfig } from '../server/config';
import { seedOfToday } from './fuzz/prng';
import { describeFailure, runFuzz, summaryLine } from './fuzz/run';
import { Progress } from './lib/progress';

/**
 * `npm run fuzz -- --requests 20000 --seed N`: the randomized isolation test, long. Starts its own
 * server (embedded PostgreSQL and S3 in a throwaway DATA_DIR), runs the seeded stream, prints a
 * summary line and each failure with the command that replays it; exits 1 on any leak or 5xx.
 */

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    process.stderr.write(`--${name} must be a non-negative integer\n`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const requests = arg('requests', 20_000);
  const seed = arg('seed', seedOfToday());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-fuzz-'));
  fs.chmodSync(dataDir, 0o755);
  const port = await freePort();
  process.stderr.write(`fuzz: starting a server in ${dataDir} (seed ${seed}, ${requests} requests)\n`);
  const server = await startServer(loadConfig({
    DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', EMBEDDED_PG_PORT: String(await freePort()),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', BASE_URL: `http://127.0.0.1:${port}`,
  }));
  const admin = knexFactory({ client: 'pg', connection: server.db.adminUrl, pool: { min: 0, max: 2 } });
  const { cfg } = server;
  const progress = new Progress('fuzz', requests);
  try {
    const summary = await runFuzz({
      baseUrl: `http://127.0.0.1:${port}`,
      admin,
      mint: (req) => mintAccessToken(server.keys[0], { issuer: cfg.tokenIssuer, audience: cfg.tokenAudience, clinicClaim: cfg.clinicClaim }, req),
    }, { seed, requests, onProgress: () => progress.add(1) });
    progress.finish();
    for (const [label, statuses] of Object.entries(summary.byLabel).sort()) {
      process.stdout.write(`  ${label.padEnd(24)} ${Object.entries(statuses).map(([s, n]) => `${s}:${n}`).join(' ')}\n`);
    }
    for (const f of summary.failures) process.stdout.write(`${describeFailure(summary, f)}\n`);
    process.stdout.write(`${summaryLine(summary)}\n`);
    process.exitCode = summary.leaks + summary.serverErrors > 0 ? 1 : 0;
  } finally {
    await admin.destroy();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`fuzz failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
