import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..', '..');
const exec = promisify(execFile);

/** The first sh block under a README heading. */
export function readmeBlock(heading: string): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error(`no sh block under ${heading}`);
  return m[1];
}

/** Runs a README script as a reader would paste it (bash, strict mode) from the project root. */
export function runReadmeScript(script: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return exec('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env });
}
