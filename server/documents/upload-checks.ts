import { MAX_UPLOAD_BYTES } from '../fhir/resources/document-reference';
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { tooLarge, unprocessable, unsupportedMediaType } from '../http/errors';

/**
 * Upload checks shared by streamed bodies and inline `attachment.data`:
 * - declared type not in the allow-list              -> 415
 * - first bytes do not match the declared type       -> 415 (the real format is one we do not accept,
 *   e.g. a `.exe` declared as application/pdf; 415 names the fault, 422 is kept for "empty / broken")
 * - empty body or invalid base64                     -> 422
 * - more than maxBytes                               -> 413, raised as soon as the count passes it
 */

export { MAX_UPLOAD_BYTES };
export const ALLOWED_CONTENT_TYPES = ['application/pdf', 'image/jpeg', 'image/png', 'image/webp'] as const;
export type AllowedContentType = (typeof ALLOWED_CONTENT_TYPES)[number];

export interface UploadSummary {
  contentType: AllowedContentType;
  size: number;
  sha1Base64: string;
}

// Magic numbers; `undefined` marks a byte that may be anything (the RIFF length in WebP).
const MAGIC: Record<AllowedContentType, ReadonlyArray<number | undefined>> = {
  'application/pdf': [...Buffer.from('%PDF-')],
  'image/png': [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  'image/jpeg': [0xff, 0xd8, 0xff],
  'image/webp': [...Buffer.from('RIFF'), undefined, undefined, undefined, undefined, ...Buffer.from('WEBP')],
};

/** Lowercases and drops parameters (`; charset=...`); 415 for anything outside the allow-list. */
export function allowedContentType(declared: unknown): AllowedContentType {
  const base = typeof declared === 'string' ? declared.split(';')[0].trim().toLowerCase() : '';
  const found = ALLOWED_CONTENT_TYPES.find((t) => t === base);
  if (!found) throw unsupportedMediaType(`Content type must be one of ${ALLOWED_CONTENT_TYPES.join(', ')}`);
  return found;
}

function checkMaxBytes(maxBytes: number): number {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be a positive integer');
  return maxBytes;
}

/** The checks as a push/finish state machine, so the stream and the buffer paths cannot drift apart. */
export class UploadInspector {
  readonly contentType: AllowedContentType;
  private readonly maxBytes: number;
  private readonly magic: ReadonlyArray<number | undefined>;
  private readonly hash: Hash = createHash('sha1');
  private head = Buffer.alloc(0);
  private sniffed = false;
  private size = 0;

  constructor(declaredType: unknown, maxBytes = MAX_UPLOAD_BYTES) {
    this.contentType = allowedContentType(declaredType);
    this.maxBytes = checkMaxBytes(maxBytes);
    this.magic = MAGIC[this.contentType];
  }

  /** Accepts the next chunk; returns the bytes that may go on (held back until the type is confirmed). */
  push(chunk: Buffer): Buffer {
    this.size += chunk.length;
    if (this.size > this.maxBytes) throw tooLarge(`Attachment exceeds ${this.maxBytes} bytes`);
    this.hash.update(chunk);
    if (this.sniffed) return chunk;
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < this.magic.length) return Buffer.alloc(0);
    this.assertMagic();
    const released = this.head;
    this.head = Buffer.alloc(0);
    return released;
  }

  /** Ends the body; returns the bytes still held back and the summary. */
  finish(): { rest: Buffer; summary: UploadSummary } {
    if (this.size === 0) throw unprocessable('Attachment is empty');
    if (!this.sniffed) this.assertMagic();
    const rest = this.head;
    this.head = Buffer.alloc(0);
    return { rest, summary: { contentType: this.contentType, size: this.size, sha1Base64: this.hash.digest('base64') } };
  }

  private assertMagic(): void {
    const matches =
      this.head.length >= this.magic.length && this.magic.every((b, i) => b === undefined || this.head[i] === b);
    if (!matches) throw unsupportedMediaType(`Attachment content is not ${this.contentType}`);
    this.sniffed = true;
  }
}

/** Streaming guard: counts, hashes and sniffs as bytes pass; never holds more than the magic's length. */
export class UploadGuard extends Transform {
  private readonly inspector: UploadInspector;
  private result: UploadSummary | undefined;

  constructor(declaredType: unknown, maxBytes = MAX_UPLOAD_BYTES) {
    super();
    this.inspector = new UploadInspector(declaredType, maxBytes);
  }

  get contentType(): AllowedContentType {
    return this.inspector.contentType;
  }

  /** Available once the stream has finished without error. */
  get summary(): UploadSummary {
    if (!this.result) throw new Error('UploadGuard has not finished');
    return this.result;
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      const out = this.inspector.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      done(null, out.length > 0 ? out : undefined);
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      const { rest, summary } = this.inspector.finish();
      this.result = summary;
      done(null, rest.length > 0 ? rest : undefined);
    } catch (err) {
      done(err as Error);
    }
  }
}

/**
 * Runs a body through the guard and collects it (at most maxBytes, the cap bounds memory), because
 * a single signed PUT needs the length and hashes before sending. A refused body is never sent.
 * On refusal the source is unpiped, not destroyed: an HTTP request still needs its 413 response.
 */
export async function readCheckedUpload(
  source: NodeJS.ReadableStream,
  declaredType: unknown,
  maxBytes = MAX_UPLOAD_BYTES,
  declaredSize?: number,
): Promise<UploadSummary & { body: Buffer }> {
  const guard = new UploadGuard(declaredType, maxBytes);
  if (declaredSize !== undefined && declaredSize > maxBytes) throw tooLarge(`Attachment exceeds ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      source.unpipe(guard);
      guard.destroy();
      reject(err);
    };
    // Left attached after settling so a late source error is never an unhandled 'error' event.
    source.on('error', fail);
    guard.on('error', fail);
    guard.on('data', (c: Buffer) => chunks.push(c));
    guard.on('end', () => {
      settled = true;
      resolve();
    });
    source.pipe(guard);
  });
  const summary = guard.summary;
  if (declaredSize !== undefined && declaredSize !== summary.size) {
    throw unprocessable(`Attachment is ${summary.size} bytes, declared ${declaredSize}`);
  }
  return { ...summary, body: Buffer.concat(chunks) };
}

/** Same checks for a body already in memory. */
export function checkUploadBuffer(body: Buffer, declaredType: unknown, maxBytes = MAX_UPLOAD_BYTES): UploadSummary {
  const inspector = new UploadInspector(declaredType, maxBytes);
  inspector.push(body);
  return inspector.finish().summary;
}

/** Standard padded base64; checked without a repeated group, which overflows V8's regex stack on MBs. */
function isPaddedBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return !/[^A-Za-z0-9+/]/.test(text.slice(0, text.length - pad));
}

/**
 * Decodes FHIR `attachment.data` (base64Binary: standard alphabet, padded, whitespace allowed) and
 * runs the same checks. The size is judged from the text before anything is decoded.
 */
export function decodeInlineData(
  data: unknown,
  declaredType: unknown,
  maxBytes = MAX_UPLOAD_BYTES,
): UploadSummary & { body: Buffer } {
  allowedContentType(declaredType);
  checkMaxBytes(maxBytes);
  if (typeof data !== 'string') throw unprocessable('attachment.data must be a base64 string', ['Attachment.data']);
  const compact = data.replace(/[ \t\r\n]/g, '');
  if (!isPaddedBase64(compact)) throw unprocessable('attachment.data is not valid base64', ['Attachment.data']);
  const decodedLength = (compact.length / 4) * 3 - (compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0);
  if (decodedLength > maxBytes) throw tooLarge(`Attachment exceeds ${maxBytes} bytes`);
  const body = Buffer.from(compact, 'base64');
  return { ...checkUploadBuffer(body, declaredType, maxBytes), body };
}
