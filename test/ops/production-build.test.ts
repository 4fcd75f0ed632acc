import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { freePort } from '../../db/embedded';
import { patientBody } from '../helpers/server';
import { copies, envOf, readDockerfile, runCommands, type Stage } from './dockerfile';

// The Dockerfile's steps, read from it and repeated without Docker: stage 1 compiles, stage 2 installs
// the production dependencies from the lock file and runs its CMD on what stage 1 built.

const ROOT = path.resolve(__dirname, '..', '..');
const sh = promisify(execFile);

/** The environment without the calling npm's lifecycle variables, so child npm runs read only .npmrc. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
}

const run = (cmd: string, cwd: string) => sh('sh', ['-c', cmd], { cwd, env: cleanEnv(), maxBuffer: 16 * 1024 * 1024 });

/** Where a path of the image (WORKDIR /app) lives in this test. */
const inStage = (dir: string, p: string) => path.join(dir, p.replace(/^\/app\/?/, ''));

function copyInto(dir: string, sources: string[], dest: string, fromDir: string): void {
  for (const src of sources) {
    const target = dest.endsWith('/') ? path.join(inStage(dir, dest), path.basename(src)) : inStage(dir, dest);
    fs.cpSync(inStage(fromDir, src), target, { recursive: true });
  }
}

/** Stage 1: sources in, `npm run build`. Its `npm ci` is the project's own install of the same lock file. */
async function buildStage(stage: Stage, dir: string): Promise<void> {
  for (const step of stage.steps) {
    if (step.op === 'COPY') {
      for (const c of copies({ ...stage, steps: [step] })) copyInto(dir, c.sources, c.dest, ROOT);
    } else if (step.op === 'RUN') {
      for (const cmd of runCommands({ ...stage, steps: [step] })) {
        if (/^npm ci( |$)/.test(cmd)) fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
        else if (cmd === 'npm run build') await run(cmd, dir);
        else throw new Error(`this test does not know how to repeat the build step: ${cmd}`);
      }
    }
  }
}

/** Stage 2: package files, `npm ci --omit=dev` (from the npm cache), and what stage 1 built. */
async function runtimeStage(stage: Stage, dir: string, buildDir: string, built: Promise<void>): Promise<void> {
  for (const step of stage.steps) {
    if (step.op === 'COPY') {
      for (const c of copies({ ...stage, steps: [step] })) {
        if (c.from) await built;
        copyInto(dir, c.sources, c.dest, c.from ? buildDir : ROOT);
      }
    } else if (step.op === 'RUN') {
      for (const cmd of runCommands({ ...stage, steps: [step] })) {
        if (/^npm ci( |$)/.test(cmd)) await run(`${cmd} --prefer-offline`, dir);
        // The image's own housekeeping: emptying this machine's npm cache or /data is not part of the test.
        else if (/^npm cache clean\b|^mkdir -p \/data$|^chown \S+ \/data$/.test(cmd)) continue;
        else throw new Error(`this test does not know how to repeat the image step: ${cmd}`);
      }
    }
  }
}

interface LogLine { msg?: string; pid?: number; worker?: number }

describe('production image steps, without Docker', function () {
  this.timeout(180_000);
  const stages = readDockerfile(path.join(ROOT, 'Dockerfile'));
  const build = stages.find((s) => s.name === 'build');
  const image = stages[stages.length - 1];
  let tmp: string;
  let app: string;
  let dataDir: string;
  let server: ChildProcess | undefined;
  let baseUrl: string;
  let pgPort: number;
  const logs: LogLine[] = [];
  let stdout = '';
  let exited: Promise<number | null>;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-prod-'));
    fs.chmodSync(tmp, 0o755); // the embedded PostgreSQL runs as the `postgres` user when the test runs as root
    app = path.join(tmp, 'app');
    const buildDir = path.join(tmp, 'build');
    dataDir = path.join(tmp, 'data');
    for (const d of [app, buildDir, dataDir]) fs.mkdirSync(d, { mode: 0o755 });
    if (!build) throw new Error('the Dockerfile has no stage named build');
    const built = buildStage(build, buildDir);
    await Promise.all([built, runtimeStage(image, app, buildDir, built)]);

    const port = await freePort();
    pgPort = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const cmd = JSON.parse(image.steps.find((s) => s.op === 'CMD')!.args) as string[];
    server = spawn(cmd[0] === 'node' ? process.execPath : cmd[0], cmd.slice(1), {
      cwd: app,
      env: {
        ...cleanEnv(), ...envOf(image),
        // Loopback only, a throwaway DATA_DIR, two workers whatever the core count.
        HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), BASE_URL: baseUrl,
        WORKERS: '2', LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    server.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    exited = new Promise((resolve) => server!.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      server!.stdout!.on('data', (b: Buffer) => {
        buffered += b.toString();
        stdout += b.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines.filter((l) => l.startsWith('{'))) {
          const entry = JSON.parse(line) as LogLine;
          logs.push(entry);
        }
        // Ready: the primary's log line, then the welcome text that ends with the curl example.
        if (logs.some((l) => l.msg === 'FHIR server ready') && stdout.includes('/fhir/Patient\n')) resolve();
      });
      void exited.then((code) => reject(new Error(`the compiled server exited with ${code} before it was ready:\n${stderr.slice(-2000)}`)));
    });
  });

  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) { server.kill('SIGKILL'); await exited; }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the Dockerfile compiles in a build stage and runs the compiled server as a non-root user from production dependencies', () => {
    expect(runCommands(build!)).to.include('npm run build');
    expect(runCommands(image).some((c) => /^npm ci --omit=dev\b/.test(c)), 'npm ci --omit=dev').to.equal(true);
    expect(copies(image).filter((c) => !c.from).flatMap((c) => c.sources), 'only the package files come from the source tree')
      .to.deep.equal(['package.json', 'package-lock.json', '.npmrc']);
    expect(copies(image).filter((c) => c.from === 'build')).to.deep.equal([{ from: 'build', sources: ['/app/dist'], dest: './dist' }]);
    const user = image.steps.filter((s) => s.op === 'USER').pop()?.args;
    expect(user).to.be.a('string').and.not.match(/^(root|0)(:|$)/);
    expect(JSON.parse(image.steps.find((s) => s.op === 'CMD')!.args)).to.deep.equal(['node', 'dist/server/main.js']);
    expect(fs.existsSync(path.join(app, 'node_modules', 'tsx')), 'devDependencies are left out').to.equal(false);
    expect(fs.existsSync(path.join(app, 'node_modules', 'express')), 'dependencies are installed').to.equal(true);
  });

  it('serves GET /fhir/metadata from two workers, each started by the primary', async () => {
    const res = await fetch(`${baseUrl}/fhir/metadata`);
    expect(res.status).to.equal(200);
    expect((await res.json() as { resourceType: string }).resourceType).to.equal('CapabilityStatement');
    const workers = logs.filter((l) => l.msg === 'worker ready');
    expect(workers.map((w) => w.worker).sort()).to.deep.equal([1, 2]);
    expect(new Set(workers.map((w) => w.pid)).size).to.equal(2);
    expect(workers.map((w) => w.pid)).to.not.include(server!.pid);
    expect(stdout, 'the welcome text names the compiled admin CLI').to.include('$(node dist/scripts/admin.js clinic create');
  });

  it('the compiled admin CLI and the workers share the primary\'s database and document store', async () => {
    const env = { ...cleanEnv(), NODE_ENV: 'production', DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), BASE_URL: baseUrl };
    const admin = async (...args: string[]) => (await sh(process.execPath, ['dist/scripts/admin.js', ...args], { cwd: app, env })).stdout;
    const clinic = JSON.parse(await admin('clinic', 'create', '--name', 'Production Build Clinic')) as { id: string };
    const user = JSON.parse(await admin('user', 'create', '--clinic', clinic.id, '--email', 'doctor@prod-build.example', '--role', 'doctor')) as { id: string };
    const token = (await admin('token', '--clinic', clinic.id, '--user', user.id, '--scope', 'user/*.cruds')).trim();
    const auth = { Authorization: `Bearer ${token}` };
    const created = await fetch(`${baseUrl}/fhir/Patient`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/fhir+json' }, body: JSON.stringify(patientBody('Build')),
    });
    expect(created.status, await created.clone().text()).to.equal(201);
    const patient = (await created.json() as { id: string }).id;
    // Several rounds, so both workers (round-robin) write to the store and sign links to it.
    for (let i = 0; i < 4; i++) {
      const bytes = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(2048)]);
      const up = await fetch(`${baseUrl}/fhir/Binary`, {
        method: 'POST', headers: { ...auth, 'Content-Type': 'application/pdf', 'X-Security-Context': `Patient/${patient}` }, body: bytes,
      });
      expect(up.status, await up.clone().text()).to.equal(201);
      const id = (await up.json() as { id: string }).id;
      const link = await fetch(`${baseUrl}/fhir/Binary/${id}`, { headers: auth, redirect: 'manual' });
      expect(link.status).to.equal(302);
      const download = await fetch(link.headers.get('location')!);
      expect(download.status).to.equal(200);
      expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).to.equal(true);
    }
  });

  it('SIGTERM to the primary stops both workers and the embedded PostgreSQL, exit code 0', async () => {
    const pids = logs.filter((l) => l.msg === 'worker ready').map((w) => w.pid!);
    server!.kill('SIGTERM');
    expect(await exited).to.equal(0);
    for (const pid of pids) expect(() => process.kill(pid, 0), `worker ${pid} is gone`).to.throw(/ESRCH/);
    expect(fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), 'PostgreSQL stopped').to.equal(false);
  });
});
