import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../server/config';

const ROOT = path.resolve(__dirname, '..');
const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: '/tmp/x', ...env });
const refuses = (env: Record<string, string>, pattern: RegExp) => expect(() => load(env)).to.throw(ConfigError, pattern);

/** Starts the real entry point with `env` added; a bad setting must stop it before anything opens. */
function startServerWith(env: Record<string, string>) {
  return spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'server/main.ts'], {
    cwd: ROOT, env: { ...process.env, DATA_DIR: path.join(os.tmpdir(), 'fhir-config-never-created'), ...env }, encoding: 'utf8', timeout: 30_000,
  });
}

describe('configuration', () => {
  it('refuses an unknown LOG_LEVEL by name, listing the levels it accepts', () => {
    refuses({ LOG_LEVEL: 'bogus' }, /^LOG_LEVEL=bogus is invalid: expected one of fatal, error, warn, info, debug, trace, silent$/);
    expect(load({ LOG_LEVEL: 'debug' }).logLevel).to.equal('debug');
  });

  it('reads WORKERS: one process unless production, where the default is one per core', () => {
    expect(load({}).workers).to.equal(1);
    expect(load({ NODE_ENV: 'test' }).workers).to.equal(1);
    expect(load({ NODE_ENV: 'production' }).workers).to.equal(os.availableParallelism());
    expect(load({ NODE_ENV: 'production', WORKERS: '3' }).workers).to.equal(3);
  });

  it('refuses a WORKERS that is not a whole number from 1 to 256', () => {
    for (const bad of ['0', 'abc', '1.5', '-2', '257']) refuses({ WORKERS: bad }, new RegExp(`^WORKERS=${bad} is invalid: expected an integer from 1 to 256$`));
  });

  it('a server started with LOG_LEVEL=bogus stops with exit code 2 and one line naming the setting, no stack trace', () => {
    const run = startServerWith({ LOG_LEVEL: 'bogus' });
    expect(run.status, run.stderr).to.equal(2);
    expect(run.stderr.trim()).to.equal('configuration error: LOG_LEVEL=bogus is invalid: expected one of fatal, error, warn, info, debug, trace, silent');
  });

  it('a server started with WORKERS=0 stops the same way', () => {
    const run = startServerWith({ WORKERS: '0' });
    expect(run.status, run.stderr).to.equal(2);
    expect(run.stderr.trim()).to.equal('configuration error: WORKERS=0 is invalid: expected an integer from 1 to 256');
  });
});
