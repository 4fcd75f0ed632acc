/**
 * Runs the naive floor (naive-floor.ts) as its own process, as the real server runs: it must not
 * share the load generator's CPU any more than the server does. Run directly, this file is that
 * process (NAIVE_DB_URL, NAIVE_POOL_MAX, NAIVE_CLINIC_CLAIM); it prints its port once it listens.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import pg from 'pg';
import { naiveFloorHandler } from './naive-floor';

export interface NaiveFloorProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const READY = /^naive floor listening on (\d+)$/m;

/** Starts the naive floor process on a free port with a pool of `poolMax` connections to `dbUrl`. */
export async function startNaiveFloor(opts: { dbUrl: string; poolMax: number; clinicClaim?: string }): Promise<NaiveFloorProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', __filename], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: { ...process.env, NAIVE_DB_URL: opts.dbUrl, NAIVE_POOL_MAX: String(opts.poolMax), NAIVE_CLINIC_CLAIM: opts.clinicClaim ?? 'clinic' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the naive floor did not start within 60 s:\n${output}`)); }, 60_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      const m = READY.exec(output);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the naive floor exited (${code}) before it listened:\n${output}`)); });
  });
  // Keep draining its output so a chatty process never blocks on a full pipe.
  child.stdout.resume();
  child.stderr.resume();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return { url: `http://127.0.0.1:${port}`, pid: child.pid as number, stop };
}

function main(): void {
  const url = process.env.NAIVE_DB_URL;
  if (!url) throw new Error('NAIVE_DB_URL is not set');
  const pool = new pg.Pool({ connectionString: url, max: Number(process.env.NAIVE_POOL_MAX ?? 16) });
  const server = http.createServer(naiveFloorHandler(pool, process.env.NAIVE_CLINIC_CLAIM ?? 'clinic'));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`naive floor listening on ${typeof address === 'object' && address ? address.port : 0}\n`);
  });
  process.once('SIGTERM', () => { server.close(); server.closeAllConnections(); void pool.end().finally(() => process.exit(0)); });
}

if (require.main === module) main();
