import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { FHIR, patientBody } from '../helpers/server';
import { startChildServer, type ChildServer } from './child-server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a fresh TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

/** POSTs `body` to /fhir/Binary in `chunks` pieces spread over `spreadMs`; `midway` runs after the first third. */
function slowUpload(url: string, headers: Record<string, string>, body: Buffer, chunks: number, spreadMs: number, midway: () => void): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/fhir/Binary`, { method: 'POST', headers: { ...headers, 'Content-Length': String(body.length) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    const size = Math.ceil(body.length / chunks);
    void (async () => {
      for (let i = 0; i < chunks; i++) {
        req.write(body.subarray(i * size, (i + 1) * size));
        if (i === Math.floor(chunks / 3)) midway();
        await sleep(spreadMs / chunks);
      }
      req.end();
    })();
  });
}

describe('ops: SIGTERM drains in-flight work', function () {
  this.timeout(120_000);
  let server: ChildServer | undefined;
  after(async () => { await server?.close(); });

  it('an upload in flight at SIGTERM completes with 201, new connections are refused, and the process exits 0', async () => {
    server = await startChildServer({ SHUTDOWN_GRACE_MS: '20000' });
    const s = server;
    const created = await fetch(`${s.url}/fhir/Patient`, { method: 'POST', headers: { ...s.auth, 'Content-Type': FHIR }, body: JSON.stringify(patientBody('Drain')) });
    expect(created.status).to.equal(201);
    const patientId = ((await created.json()) as { id: string }).id;

    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(5 * 1024 * 1024 - 9)]);
    let signalled = 0;
    let onSignal = () => undefined as void;
    const sent = new Promise<void>((resolve) => { onSignal = resolve; });
    const upload = slowUpload(s.url, { ...s.auth, 'Content-Type': 'application/pdf', 'X-Security-Context': `Patient/${patientId}` }, pdf, 40, 3_000, () => {
      signalled = Date.now();
      process.kill(s.pid, 'SIGTERM');
      onSignal();
    });
    // While the upload still streams, the listener is closed: a new client cannot get in.
    await sent;
    await sleep(200);
    expect(await refused(s.port), `a new connection after SIGTERM is refused\n${s.output().slice(-3000)}`).to.equal(true);

    const res = await upload.catch((err: Error) => { throw new Error(`${err.message}\n${s.output().slice(-1500)}`); });
    expect(res.status, JSON.stringify(res.json).slice(0, 300)).to.equal(201);
    expect(res.json.resourceType).to.equal('Binary');
    expect(res.json.id).to.be.a('string');
    const code = await s.exited;
    const drainMs = Date.now() - signalled;
    expect(code).to.equal(0);
    expect(s.output()).to.match(/in-flight requests drained/);
    expect(s.output()).to.not.match(/drain limit reached/);
    process.stdout.write(`      SIGTERM to exit: ${drainMs} ms (upload streamed over ~3 s)\n`);
  });
});
