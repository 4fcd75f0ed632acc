import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { freePort } from '../../db/embedded';
import { startServerProcess } from '../../scripts/bench/server-process';
import { loadConfig } from '../../server/config';
import { documentKey } from '../../server/documents/keys';
import { openDocuments } from '../../server/documents/open';
import { testServer } from '../helpers/server';

const ROOT = path.resolve(__dirname, '..', '..');
const sh = promisify(execFile);
const PDF = Buffer.from('%PDF-1.7\nbytes that outlive a restart');

/** Only what a fresh terminal has: the banner's commands must carry every setting themselves. */
const bareEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' });

/** Runs server/main.ts until it exits; resolves with its exit code and output. */
function startAndExit(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server', 'main.ts')], { cwd: ROOT, env: { ...bareEnv(), LOG_LEVEL: 'silent', ...env } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => { clearTimeout(kill); resolve({ code, out }); });
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try { await p; } catch (err) { return err; }
  throw new Error('expected a rejection');
}

async function occupy(port: number): Promise<net.Server> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return srv;
}

describe('A newcomer\'s start: banner commands that work, start-up errors that name their cause', () => {
  it('the banner\'s commands work as printed, in a bare shell, with a non-default DATA_DIR and EMBEDDED_PG_PORT', async () => {
    const server = await startServerProcess({ env: { LOG_LEVEL: 'warn' } });
    try {
      const banner = fs.readFileSync(server.logFile, 'utf8');
      expect(banner).to.include(`DATA_DIR=${server.dataDir}`).and.to.include(`EMBEDDED_PG_PORT=${server.pgPort}`);
      const commands = banner.split('\n').filter((l) => /^ {2}(CLINIC|USER|TOKEN)=|^ {2}(curl|export) /.test(l)).map((l) => l.trim());
      expect(commands).to.have.length(5);
      expect(commands[0]).to.match(/^export DATA_DIR=/);
      const { stdout } = await sh('bash', ['-euo', 'pipefail', '-c', commands.join('\n')], { cwd: ROOT, env: bareEnv() });
      expect(JSON.parse(stdout)).to.include({ resourceType: 'Bundle', type: 'searchset' });
    } finally {
      await server.stop();
    }
  });

  it('a busy EMBEDDED_PG_PORT stops the start with the port and the setting named (never "undefined")', async () => {
    const port = await freePort();
    const blocker = await occupy(port);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-busy-'));
    try {
      const r = await startAndExit({ DATA_DIR: dataDir, PORT: String(await freePort()), EMBEDDED_PG_PORT: String(port) });
      expect(r.code).to.not.equal(0);
      expect(r.out).to.match(new RegExp(`port ${port} is busy: set EMBEDDED_PG_PORT`));
      expect(r.out).to.not.include('undefined');
    } finally {
      blocker.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a busy PORT stops the start naming PORT and the port', async () => {
    const port = await freePort();
    const blocker = await occupy(port);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-busy-http-'));
    try {
      const r = await startAndExit({ DATA_DIR: dataDir, PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()) });
      expect(r.code).to.not.equal(0);
      expect(r.out).to.match(new RegExp(`port ${port} is busy .*set PORT to a free port`));
      expect(r.out).to.not.include('undefined');
    } finally {
      blocker.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a DATA_DIR that cannot be a directory stops the start naming DATA_DIR and the path', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-file-')), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const r = await startAndExit({ DATA_DIR: path.join(file, 'data'), PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()) });
    expect(r.code).to.not.equal(0);
    expect(r.out).to.match(/cannot write .*not-a-dir.* DATA_DIR=.*must be a directory/);
    expect(r.out).to.not.include('undefined');
  });

  it('the embedded store keeps its port across a restart, so a signed link minted before it still opens', async () => {
    const shared = await testServer();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-s3port-'));
    const cfg = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    try {
      const first = await openDocuments(cfg, shared.db.runtime, { sweeper: false });
      await first.service.ensureReady(true);
      const key = documentKey({ clinicId: randomUUID(), patientId: randomUUID(), documentId: randomUUID(), attachmentId: randomUUID() });
      await first.service.store.put(key, PDF, 'application/pdf');
      const { url } = await first.service.store.signedGetUrl(key);
      const port = first.embedded?.port;
      await first.close();
      expect(await rejection(fetch(url))).to.be.instanceOf(Error); // the store is down: the link cannot open

      const second = await openDocuments(cfg, shared.db.runtime, { sweeper: false });
      try {
        expect(second.embedded?.port).to.equal(port);
        const res = await fetch(url);
        expect(res.status).to.equal(200);
        expect(Buffer.from(await res.arrayBuffer())).to.deep.equal(PDF);
      } finally {
        await second.close();
      }

      // The kept port busy at the next start: the error says which port and which setting frees it.
      const blocker = await occupy(port as number);
      try {
        expect(String(await rejection(openDocuments(cfg, shared.db.runtime, { sweeper: false })))).to.match(new RegExp(`port ${port} .*is busy.*EMBEDDED_S3_PORT`));
      } finally {
        blocker.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('EMBEDDED_S3_PORT must differ from EMBEDDED_PG_PORT and be a port', () => {
    expect(() => loadConfig({ EMBEDDED_S3_PORT: '54329' })).to.throw(/EMBEDDED_S3_PORT=54329 is the same as EMBEDDED_PG_PORT/);
    expect(() => loadConfig({ EMBEDDED_S3_PORT: '70000' })).to.throw(/EMBEDDED_S3_PORT=70000 is invalid/);
    expect(loadConfig({ EMBEDDED_S3_PORT: '9300' }).documents.embeddedPort).to.equal(9300);
  });
});
