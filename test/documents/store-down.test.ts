import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { EMBEDDED_S3_DEFAULT_CREDENTIALS, EMBEDDED_S3_HOST, EmbeddedS3, type RunningEmbeddedS3 } from '../../server/documents/embedded-s3';
import { expectOutcome, newKey, newStore, readAll, samples, startTestStore } from './helpers';

const creds = { host: EMBEDDED_S3_HOST, ...EMBEDDED_S3_DEFAULT_CREDENTIALS };

/** A port that was free a moment ago and has nothing listening now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, EMBEDDED_S3_HOST, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Accepts TCP connections and never answers: a hung store. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, EMBEDDED_S3_HOST, resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('documents: object store unavailable', () => {
  it('nothing listening on the port: every store call gives 503 and healthy() is false', async () => {
    const store = newStore({ ...creds, port: await closedPort() });
    const err = await expectOutcome(store.put(newKey(), samples.pdf(), 'application/pdf'), 503);
    expect(err.issues[0].code).to.equal('transient');
    expect(err.message).to.not.match(/ECONNREFUSED|127\.0\.0\.1/);
    await expectOutcome(store.put(newKey(), Readable.from([samples.pdf()]), 'application/pdf'), 503);
    await expectOutcome(store.get(newKey()), 503);
    await expectOutcome(store.remove(newKey()), 503);
    await expectOutcome(store.ensureBucket(), 503);
    await expectOutcome(async () => {
      for await (const item of store.list(newKey().replace(/[^/]+$/, ''))) void item;
    }, 503);
    expect(await store.healthy()).to.equal(false);
  });

  it('a store that was running and stops: the next put gives 503, and works again after restart', async () => {
    const { s3, dir, cleanup } = await startTestStore();
    let restarted: RunningEmbeddedS3 | undefined;
    try {
      const store = newStore(s3);
      await store.ensureBucket();
      const key = newKey();
      const body = samples.pdf();
      await store.put(key, body, 'application/pdf');
      expect(await store.healthy()).to.equal(true);
      await s3.stop();
      await expectOutcome(store.put(newKey(), samples.pdf(), 'application/pdf'), 503);
      await expectOutcome(store.get(key), 503);
      expect(await store.healthy()).to.equal(false);

      // Same fixed port and data directory: the client recovers and the object is still there.
      restarted = await new EmbeddedS3({ port: s3.port, directory: dir }).start();
      expect(restarted.port).to.equal(s3.port);
      expect(await store.healthy()).to.equal(true);
      expect((await readAll(await store.get(key))).equals(body)).to.equal(true);
    } finally {
      await restarted?.stop();
      await cleanup();
    }
  });

  it('a store that accepts connections but never answers gives 503 after the request timeout', async () => {
    const hung = await silentServer();
    try {
      const store = newStore({ ...creds, port: hung.port }, { requestTimeoutMs: 300 });
      const started = Date.now();
      await expectOutcome(store.put(newKey(), samples.pdf(), 'application/pdf'), 503);
      expect(Date.now() - started).to.be.lessThan(5000);
      expect(await store.healthy()).to.equal(false);
    } finally {
      await hung.close();
    }
  });

  it('a download cut off mid-stream errors with 503, not a socket error', async () => {
    const { s3, cleanup } = await startTestStore();
    try {
      const store = newStore(s3);
      await store.ensureBucket();
      const key = newKey();
      await store.put(key, samples.pdf(8 * 1024 * 1024), 'application/pdf');
      const download = await store.get(key);
      await s3.stop();
      await expectOutcome(readAll(download), 503);
    } finally {
      await cleanup();
    }
  });
});
