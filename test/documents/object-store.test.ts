import { createHash, randomUUID } from 'node:crypto';
import { access, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import S3rver from '@20minutes/s3rver';
import * as Minio from 'minio';
import { assertSignedUrlInClinic } from '../../server/documents/keys';
import type { ObjectStore } from '../../server/documents/object-store';
import type { RunningEmbeddedS3 } from '../../server/documents/embedded-s3';
import { expectOutcome, newKey, newStore, presignByHand, readAll, samples, startTestStore, storeConfig } from './helpers';

const TEN_MB = 10 * 1024 * 1024;

describe('documents: object store against the embedded s3rver', () => {
  let s3: RunningEmbeddedS3;
  let dir: string;
  let cleanup: () => Promise<void>;
  let store: ObjectStore;
  const clinicA = randomUUID();
  const clinicB = randomUUID();

  before(async () => {
    ({ s3, dir, cleanup } = await startTestStore());
    store = newStore(s3);
    await store.ensureBucket();
  });
  after(async () => cleanup());

  async function storedKeys(key: string): Promise<string[]> {
    const prefix = key.slice(0, key.lastIndexOf('/') + 1);
    const keys: string[] = [];
    for await (const item of store.list(prefix)) keys.push(item.key);
    return keys;
  }

  it('a PDF uploaded as a stream downloads byte for byte, with its size and SHA-1', async () => {
    const key = newKey(clinicA);
    const body = samples.pdf(3 * 1024 * 1024 + 17);
    const put = await store.put(key, Readable.from([body.subarray(0, 1000), body.subarray(1000)]), 'application/pdf');
    expect(put.size).to.equal(body.length);
    expect(put.sha1Base64).to.equal(createHash('sha1').update(body).digest('base64'));
    const back = await readAll(await store.get(key));
    expect(back.equals(body)).to.equal(true);
    expect(await storedKeys(key)).to.deep.equal([key]);
  });

  it('PNG, JPEG and WebP buffers are accepted and read back', async () => {
    for (const [type, body] of [['image/png', samples.png()], ['image/jpeg', samples.jpeg()], ['image/webp', samples.webp()]] as const) {
      const key = newKey(clinicA);
      await store.put(key, body, type);
      expect((await readAll(await store.get(key))).equals(body), type).to.equal(true);
    }
  });

  it('10 MB + 1 byte is refused with 413 and nothing is stored; exactly 10 MB is accepted', async () => {
    const tooBig = newKey(clinicA);
    await expectOutcome(store.put(tooBig, Readable.from([samples.pdf(TEN_MB + 1)]), 'application/pdf'), 413);
    expect(await storedKeys(tooBig)).to.deep.equal([]);
    await expectOutcome(store.get(tooBig), 404);

    const justFits = newKey(clinicA);
    const put = await store.put(justFits, Readable.from([samples.pdf(TEN_MB)]), 'application/pdf');
    expect(put.size).to.equal(TEN_MB);
  });

  it('a declared size over the cap is refused before reading the body', async () => {
    let pulled = 0;
    const body = new Readable({ read() { pulled++; this.push(samples.pdf(1024)); this.push(null); } });
    await expectOutcome(store.put(newKey(clinicA), body, 'application/pdf', TEN_MB + 1), 413);
    expect(pulled).to.equal(0);
  });

  it('a PDF declared as image/png is refused with 415 and not stored', async () => {
    const key = newKey(clinicA);
    await expectOutcome(store.put(key, samples.pdf(), 'image/png'), 415);
    await expectOutcome(store.put(key, Readable.from([samples.pdf()]), 'image/png'), 415);
    expect(await storedKeys(key)).to.deep.equal([]);
  });

  it('an empty file is refused with 422 and not stored', async () => {
    const key = newKey(clinicA);
    await expectOutcome(store.put(key, Buffer.alloc(0), 'application/pdf'), 422);
    await expectOutcome(store.put(key, Readable.from([]), 'application/pdf'), 422);
    expect(await storedKeys(key)).to.deep.equal([]);
  });

  it('a key the server would not build is refused before reaching the store', async () => {
    await expectOutcome(store.put(`clinics/${clinicA}/../x`, samples.pdf(), 'application/pdf'), 400);
    await expectOutcome(store.get('../../etc/passwd'), 400);
  });

  it('a signed link works with plain fetch and serves the declared type', async () => {
    const key = newKey(clinicA);
    const body = samples.png();
    await store.put(key, body, 'image/png');
    const { url, expiresAt } = await store.signedGetUrl(key);
    const res = await fetch(url);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('image/png');
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).to.equal(true);
    const lifetime = expiresAt.getTime() - Date.now();
    expect(lifetime).to.be.greaterThan(3590_000).and.at.most(3600_000);
    expect(assertSignedUrlInClinic(url, clinicA, store.bucket).clinicId).to.equal(clinicA);
  });

  it('the same link is handed out again within the reuse window, a new one for another lifetime', async () => {
    const key = newKey(clinicA);
    await store.put(key, samples.jpeg(), 'image/jpeg');
    const first = await store.signedGetUrl(key, 600);
    const again = await store.signedGetUrl(key, 600);
    expect(again.url).to.equal(first.url);
    const other = await store.signedGetUrl(key, 60);
    expect(other.url).to.not.equal(first.url);
    expect(other.expiresAt.getTime()).to.be.at.most(Date.now() + 60_000);
    await expectOutcome(store.signedGetUrl(key, 3601), 400);
  });

  it("clinic A's link with its path changed to clinic B's key is refused by the store (403)", async () => {
    const keyA = newKey(clinicA);
    const keyB = newKey(clinicB);
    await store.put(keyA, samples.pdf(), 'application/pdf');
    await store.put(keyB, samples.pdf(), 'application/pdf');
    const linkA = (await store.signedGetUrl(keyA)).url;
    const forged = linkA.replace(keyA, keyB);
    expect(forged).to.not.equal(linkA);

    const res = await fetch(forged);
    expect(res.status).to.equal(403);
    expect(await res.text()).to.contain('SignatureDoesNotMatch');
    // Control: B's object is there and readable with B's own link.
    expect((await fetch((await store.signedGetUrl(keyB)).url)).status).to.equal(200);
    // And the app-layer guard refuses the forged link for clinic A before anything is fetched.
    await expectOutcome(() => assertSignedUrlInClinic(forged, clinicA, store.bucket), 403);
  });

  it('a link with a tampered signature is refused', async () => {
    const key = newKey(clinicA);
    await store.put(key, samples.pdf(), 'application/pdf');
    const { url } = await store.signedGetUrl(key);
    const tampered = url.replace(/(X-Amz-Signature=[0-9a-f]{63})([0-9a-f])/, (_m, head: string, last: string) => head + (last === '0' ? '1' : '0'));
    expect(tampered).to.not.equal(url);
    const res = await fetch(tampered);
    expect(res.status).to.equal(403);
    expect(await res.text()).to.contain('SignatureDoesNotMatch');
  });

  it('an expired link is refused while a longer-lived one for the same object still works', async () => {
    const key = newKey(clinicA);
    await store.put(key, samples.pdf(), 'application/pdf');
    const short = await store.signedGetUrl(key, 1);
    const long = await store.signedGetUrl(key, 60);
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await fetch(short.url);
    expect(expired.status).to.equal(403);
    expect(await expired.text()).to.contain('Request has expired');
    expect((await fetch(long.url)).status).to.equal(200);
  });

  it('a validly signed link that s3rver would treat as never expiring (X-Amz-Expires=NaN) is refused', async () => {
    const key = newKey(clinicA);
    await store.put(key, samples.pdf(), 'application/pdf');
    const base = { host: s3.host, port: s3.port, bucket: store.bucket, key, accessKey: s3.accessKey, secretKey: s3.secretKey };
    // Control: the hand signer is right, its fresh link with a numeric lifetime is served.
    expect((await fetch(presignByHand({ ...base, signedAt: new Date(), expires: '60' }))).status).to.equal(200);
    // Signed a day ago with a lifetime s3rver cannot parse: its own expiry check never fires.
    const res = await fetch(presignByHand({ ...base, signedAt: new Date(Date.now() - 86_400_000), expires: 'NaN' }));
    expect(res.status).to.equal(403);
    expect(await res.text()).to.contain('X-Amz-Expires');
  });

  it('an unsigned GET of an existing object is refused with an S3 AccessDenied error', async () => {
    const key = newKey(clinicA);
    await store.put(key, samples.pdf(), 'application/pdf');
    const plain = `${s3.endpoint}/${store.bucket}/${key}`;
    for (const url of [
      plain,
      // s3rver only checks exact-case parameter names; lowercase ones would otherwise be served unsigned.
      `${plain}?x-amz-algorithm=AWS4-HMAC-SHA256&x-amz-signature=${'0'.repeat(64)}`,
      `${plain}?Signature=abc&AWSAccessKeyId=S3RVER&Expires=9999999999`,
    ]) {
      const res = await fetch(url);
      expect(res.status, url).to.equal(403);
      const text = await res.text();
      expect(text).to.contain('<Code>AccessDenied</Code>');
      expect(res.headers.get('content-type')).to.match(/application\/xml/);
    }
    expect((await fetch(`${s3.endpoint}/`)).status).to.equal(403);
  });

  it('a signed request for a `../` key cannot write outside the data directory', async () => {
    const admin = new Minio.Client({ endPoint: s3.host, port: s3.port, useSSL: false, accessKey: s3.accessKey, secretKey: s3.secretKey, region: 'us-east-1' });
    const name = `escaped-${randomUUID()}`;
    const outside = join(dirname(dir), `${name}._S3rver_object`);
    let caught: unknown;
    try {
      await admin.putObject(store.bucket, `../../${name}`, samples.pdf());
    } catch (err) {
      caught = err;
    }
    const escaped = await access(outside).then(() => true, () => false);
    if (escaped) await Promise.all(['object', 'object.md5', 'metadata.json'].map((s) => rm(join(dirname(dir), `${name}._S3rver_${s}`), { force: true })));
    expect(escaped, 's3rver wrote outside its directory').to.equal(false);
    expect((caught as { code?: string }).code).to.equal('AccessDenied');
  });

  it("s3rver's public built-in S3RVER/S3RVER credentials are not accepted", async () => {
    const key = newKey(clinicA);
    await store.put(key, samples.pdf(), 'application/pdf');
    const intruder = new Minio.Client({ endPoint: s3.host, port: s3.port, useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', region: 'us-east-1' });
    const res = await fetch(await intruder.presignedGetObject(store.bucket, key, 60));
    expect(res.status).to.equal(403);
    expect(await res.text()).to.contain('InvalidAccessKeyId');
  });

  it('ensureBucket leaves no bucket policy and anonymous list and read are refused', async () => {
    await store.ensureBucket();
    const admin = new Minio.Client({ endPoint: s3.host, port: s3.port, useSSL: false, accessKey: s3.accessKey, secretKey: s3.secretKey, region: 'us-east-1' });
    let policy: string | undefined;
    try {
      policy = await admin.getBucketPolicy(store.bucket);
    } catch (err) {
      // s3rver cannot hold a policy at all; MinIO answers NoSuchBucketPolicy.
      expect((err as { code?: string }).code).to.be.oneOf(['MethodNotAllowed', 'NoSuchBucketPolicy', 'NotImplemented']);
    }
    expect(policy ?? '').to.equal('');
    expect((await fetch(`${s3.endpoint}/${store.bucket}/?list-type=2`)).status).to.equal(403);
    expect((await fetch(`${s3.endpoint}/${store.bucket}`)).status).to.equal(403);
  });

  it('ensureBucket refuses a store that answers anonymous requests (s3rver without the guard)', async () => {
    const raw = new S3rver({ address: '127.0.0.1', port: 0, directory: `${dir}-raw`, silent: true, vhostBuckets: false });
    const { port } = await raw.run();
    try {
      const exposed = newStore({ ...s3, port }, {}, 'exposed');
      const key = newKey(clinicA);
      await exposed.ensureBucket().catch(() => undefined);
      await exposed.put(key, samples.pdf(), 'application/pdf');
      // This is why the guard exists: plain s3rver serves the object to anyone.
      expect((await fetch(`http://127.0.0.1:${port}/exposed/${key}`)).status).to.equal(200);
      const err = await expectOutcome(exposed.ensureBucket(), 503);
      expect(err.message).to.contain('not private');
    } finally {
      const closed = raw.close();
      raw.httpServer?.closeAllConnections();
      await closed;
      await rm(`${dir}-raw`, { recursive: true, force: true });
    }
  });

  it('remove deletes the object and list only returns keys under the prefix', async () => {
    const patientPrefix = `clinics/${clinicB}/patients/${randomUUID()}/`;
    const keys = [0, 1].map(() => `${patientPrefix}${randomUUID()}/${randomUUID()}`);
    for (const key of keys) await store.put(key, samples.pdf(), 'application/pdf');
    const listed: string[] = [];
    for await (const item of store.list(patientPrefix)) {
      expect(item.lastModified).to.be.instanceOf(Date);
      listed.push(item.key);
    }
    expect(listed.sort()).to.deep.equal([...keys].sort());
    await store.remove(keys[0]);
    await expectOutcome(store.get(keys[0]), 404);
    const after: string[] = [];
    for await (const item of store.list(patientPrefix)) after.push(item.key);
    expect(after).to.deep.equal([keys[1]]);
    await expectOutcome(() => store.list('clinics/'), 400);
    await expectOutcome(() => store.list(`clinics/${clinicB}/../`), 400);
  });

  it('healthy() is true against a running store', async () => {
    expect(await store.healthy()).to.equal(true);
    expect(storeConfig(s3).endPoint).to.equal('127.0.0.1');
  });
});
