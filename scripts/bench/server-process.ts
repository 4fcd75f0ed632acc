import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../db/embedded';

export interface ServerProcess {
  url: string;
  dataDir: string;
  pgPort: number;
  pid: number;
  /** The embedded PostgreSQL's postmaster. */
  pgPid?: number;
  logFile: string;
  /** Stops the server (which stops its PostgreSQL), then removes the data directory unless kept. */
  stop(keepData?: boolean): Promise<void>;
}

const ROOT = path.resolve(__dirname, '..', '..');

/** Resident set size of a process in MB, from /proc (Linux). */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/**
 * Starts `npm start`'s entry (server/main.ts) as a child process on the embedded defaults, in a
 * throwaway DATA_DIR with free ports, and resolves once it says it is ready.
 */
export async function startServerProcess(opts: { env?: Record<string, string>; nodeArgs?: string[]; dataDir?: string } = {}): Promise<ServerProcess> {
  // A given data directory (a kept dataset) is the caller's: it is never removed here.
  const owned = !opts.dataDir;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-bench-'));
  fs.chmodSync(dataDir, 0o755);
  const [port, pgPort] = [await freePort(), await freePort()];
  const logFile = path.join(dataDir, 'server.log');
  const log = fs.openSync(logFile, 'a');
  const logStart = fs.fstatSync(log).size;
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', path.join(ROOT, 'server', 'main.ts')], {
    cwd: ROOT,
    // Rate limits stay on (their cost is measured) but far above what a run sends: a 429 is not an answer to measure.
    env: {
      ...process.env, RATE_LIMIT_PER_USER: '10000000', RATE_LIMIT_PER_ADDRESS: '10000000',
      DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), BASE_URL: `http://127.0.0.1:${port}`, ...opts.env,
    },
    stdio: ['ignore', log, log],
  });
  let stopped = false;
  const stop = async (keepData = false) => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 30_000))) { child.kill('SIGKILL'); await waitExit(child, 5_000); }
    }
    // A server that died hard leaves its PostgreSQL running: stop that one postmaster by its pid.
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
    const pgPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
    if (Number.isInteger(pgPid) && pgPid > 0 && alive(pgPid)) {
      process.kill(pgPid, 'SIGINT');
      for (let i = 0; i < 100 && alive(pgPid); i++) await new Promise((r) => setTimeout(r, 100));
    }
    fs.closeSync(log);
    if (!keepData && owned) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // The server's output goes straight to a file (no cost to the load generator); poll it for readiness.
    const deadline = Date.now() + 120_000;
    while (!/FHIR R4 server ready/.test(fs.readFileSync(logFile).subarray(logStart).toString())) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited before it was ready; see ${logFile}:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      if (Date.now() > deadline) throw new Error('the server did not start within 120 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
  const pgPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : undefined;
  return { url: `http://127.0.0.1:${port}`, dataDir, pgPort, pid: child.pid as number, ...(pgPid ? { pgPid } : {}), logFile, stop };
}
