import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../server/config';
import { ObjectStore } from '../../server/documents/object-store';
import { newKey, samples, startTestStore, storeConfig } from '../documents/helpers';

/** Forwards every request to the store and keeps the headers of each PUT, as the store received them. */
async function recordingProxy(target: { host: string; port: number }) {
  const puts: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'PUT') puts.push(req.headers);
    const upstream = http.request({ host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { puts, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) };
}

const readAll = async (s: NodeJS.ReadableStream) => { const parts: Buffer[] = []; for await (const c of s) parts.push(c as Buffer); return Buffer.concat(parts); };

describe('Documents are written with server-side encryption when S3_SSE asks for it', function () {
  this.timeout(60_000);

  it('S3_SSE accepts AES256 or off (the default) and refuses anything else by name', () => {
    expect(loadConfig({}).documents.sse).to.equal(undefined);
    expect(loadConfig({ S3_SSE: 'off' }).documents.sse).to.equal(undefined);
    expect(loadConfig({ S3_SSE: 'AES256' }).documents.sse).to.equal('AES256');
    expect(() => loadConfig({ S3_SSE: 'aws:kms' })).to.throw(ConfigError, /S3_SSE=aws:kms is invalid: expected AES256 or off/);
  });

  it('with S3_SSE=AES256 every object PUT carries x-amz-server-side-encryption, and the store still takes and returns it', async () => {
    const store = await startTestStore();
    const proxy = await recordingProxy(store.s3);
    try {
      const at = { ...store.s3, host: '127.0.0.1', port: proxy.port };
      const plain = new ObjectStore({ ...storeConfig(at, 'sse-test') });
      await plain.ensureBucket();
      const sealed = new ObjectStore({ ...storeConfig(at, 'sse-test'), sse: 'AES256' });
      const bytes = samples.pdf(4096);
      const [k1, k2] = [newKey(), newKey()];
      await plain.put(k1, samples.pdf(), 'application/pdf');
      await sealed.put(k2, bytes, 'application/pdf');
      const objectPuts = proxy.puts.filter((h) => h['x-amz-meta-sha1']);
      expect(objectPuts).to.have.length(2);
      expect(objectPuts[0]['x-amz-server-side-encryption']).to.equal(undefined);
      expect(objectPuts[1]['x-amz-server-side-encryption']).to.equal('AES256');
      expect(await readAll(await sealed.get(k2))).to.deep.equal(bytes);
    } finally {
      await proxy.close();
      await store.cleanup();
    }
  });
});
