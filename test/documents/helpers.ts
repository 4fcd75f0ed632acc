import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { OperationOutcomeError } from '../../server/http/errors';
import { EmbeddedS3, type RunningEmbeddedS3 } from '../../server/documents/embedded-s3';
import { ObjectStore, type ObjectStoreConfig, type ObjectStoreOptions } from '../../server/documents/object-store';
import { documentKey } from '../../server/documents/keys';

/** A real embedded s3rver in a fresh temp directory, for one test file. */
export async function startTestStore(): Promise<{ s3: RunningEmbeddedS3; dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'docs-s3-'));
  const s3 = await new EmbeddedS3({ port: 0, directory: dir }).start();
  return {
    s3,
    dir,
    cleanup: async () => {
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function storeConfig(s3: { host: string; port: number; accessKey: string; secretKey: string }, bucket = 'documents'): ObjectStoreConfig {
  return {
    endPoint: s3.host,
    port: s3.port,
    useSSL: false,
    accessKey: s3.accessKey,
    secretKey: s3.secretKey,
    bucket,
    region: 'us-east-1',
    pathStyle: true,
    linkTtlSeconds: 3600,
  };
}

export function newStore(s3: Parameters<typeof storeConfig>[0], opts: ObjectStoreOptions = {}, bucket?: string): ObjectStore {
  return new ObjectStore(storeConfig(s3, bucket), opts);
}

/** A fresh key in a fresh patient of the given clinic. */
export function newKey(clinicId: string = randomUUID()): string {
  return documentKey({ clinicId, patientId: randomUUID(), documentId: randomUUID(), attachmentId: randomUUID() });
}

export const samples = {
  pdf: (bytes = 2048) => Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(Math.max(0, bytes - 9))]),
  png: () => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(500)]),
  jpeg: () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(500)]),
  webp: () => Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WEBPVP8 '), randomBytes(500)]),
  // A Windows executable starts with "MZ".
  exe: () => Buffer.concat([Buffer.from('MZ'), Buffer.from([0x90, 0, 3, 0, 0, 0]), randomBytes(500)]),
};

/** Asserts that `work` rejects with an OperationOutcomeError of the given status; returns it. */
export async function expectOutcome(work: Promise<unknown> | (() => unknown), status: number): Promise<OperationOutcomeError> {
  let caught: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected an OperationOutcomeError ${status}`).to.be.instanceOf(OperationOutcomeError);
  expect((caught as OperationOutcomeError).status, (caught as Error).message).to.equal(status);
  return caught as OperationOutcomeError;
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * A hand-made SigV4 presigned GET, for links the minio client refuses to produce (it replaces a
 * NaN lifetime with 7 days). Canonicalised the way s3rver verifies it.
 */
export function presignByHand(opts: {
  host: string;
  port: number;
  bucket: string;
  key: string;
  accessKey: string;
  secretKey: string;
  signedAt: Date;
  expires: string;
  region?: string;
}): string {
  const { createHash, createHmac } = require('node:crypto') as typeof import('node:crypto');
  const region = opts.region ?? 'us-east-1';
  const amzDate = opts.signedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/s3/aws4_request`;
  const query: Record<string, string> = {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${opts.accessKey}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': opts.expires,
    'X-Amz-SignedHeaders': 'host',
  };
  const canonicalQuery = Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const path = `/${opts.bucket}/${opts.key}`;
  const hostHeader = `${opts.host}:${opts.port}`;
  const canonical = ['GET', path, canonicalQuery, `host:${hostHeader}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let signingKey: Buffer = createHmac('sha256', `AWS4${opts.secretKey}`).update(day).digest();
  for (const part of [region, 's3', 'aws4_request']) signingKey = createHmac('sha256', signingKey).update(part).digest();
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
  return `http://${hostHeader}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}
