import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { testServer } from './server';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * Runs the admin CLI (`npm run admin`) against the test server's database, as an operator would:
 * its DATA_DIR, its embedded PostgreSQL and its public URL; `env` adds to or overrides that.
 */
export async function adminCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const s = await testServer();
  const full = { ...process.env, DATA_DIR: s.cfg.dataDir, EMBEDDED_PG_PORT: String(s.cfg.embeddedPgPort), BASE_URL: s.cfg.baseUrl, LOG_LEVEL: 'silent', ...env };
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/admin.ts'), ...args], { env: full, cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout?: string; stderr?: string };
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** The CLI's JSON answer, or {} when it printed something else (a bare token, an error). */
export function jsonOf(r: CliResult): Record<string, unknown> {
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    return {};
  }
}
