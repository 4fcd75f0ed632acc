import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import {
  allowedContentType,
  decodeInlineData,
  MAX_UPLOAD_BYTES,
  readCheckedUpload,
  UploadGuard,
} from '../../server/documents/upload-checks';
import { expectOutcome, readAll, samples } from './helpers';

/** A source that produces `total` bytes in 64 KiB chunks and counts how many it was asked for. */
function countingSource(first: Buffer, total: number): { stream: Readable; produced: () => number } {
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= total) return void this.push(null);
      const chunk = produced === 0 ? first : Buffer.alloc(Math.min(64 * 1024, total - produced), 0x41);
      produced += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, produced: () => produced };
}

describe('documents: upload checks', () => {
  it('the cap is 10 MB', () => {
    expect(MAX_UPLOAD_BYTES).to.equal(10 * 1024 * 1024);
  });

  it('accepts only PDF, JPEG, PNG and WebP, ignoring case and parameters', async () => {
    expect(allowedContentType('Application/PDF; charset=binary')).to.equal('application/pdf');
    for (const type of ['text/html', 'image/svg+xml', 'application/octet-stream', 'image/jpg', 'application/x-msdownload', '', undefined]) {
      await expectOutcome(() => allowedContentType(type), 415);
    }
  });

  it('each allowed type passes with its own magic number and fails with another one', async () => {
    const bodies = { 'application/pdf': samples.pdf(), 'image/png': samples.png(), 'image/jpeg': samples.jpeg(), 'image/webp': samples.webp() };
    for (const [type, body] of Object.entries(bodies)) {
      const out = await readCheckedUpload(Readable.from([body]), type);
      expect(out.body.equals(body), type).to.equal(true);
      for (const [otherType, otherBody] of Object.entries(bodies)) {
        if (otherType !== type) await expectOutcome(readCheckedUpload(Readable.from([otherBody]), type), 415);
      }
    }
  });

  it('a .exe renamed application/pdf is refused with 415', async () => {
    await expectOutcome(readCheckedUpload(Readable.from([samples.exe()]), 'application/pdf'), 415);
  });

  it('a RIFF file that is not WebP (a WAV) is refused as image/webp', async () => {
    const wav = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WAVEfmt '), Buffer.alloc(64)]);
    await expectOutcome(readCheckedUpload(Readable.from([wav]), 'image/webp'), 415);
  });

  it('magic split across one-byte chunks is still recognised, and the bytes are passed on intact', async () => {
    const body = samples.webp();
    const oneByteChunks = [...body].map((b) => Buffer.from([b]));
    const out = await readCheckedUpload(Readable.from(oneByteChunks), 'image/webp');
    expect(out.body.equals(body)).to.equal(true);
    expect(out.size).to.equal(body.length);
    expect(out.sha1Base64).to.equal(createHash('sha1').update(body).digest('base64'));
  });

  it('a body shorter than its magic number is refused', async () => {
    await expectOutcome(readCheckedUpload(Readable.from([Buffer.from('%PD')]), 'application/pdf'), 415);
  });

  it('an empty body is refused with 422', async () => {
    await expectOutcome(readCheckedUpload(Readable.from([]), 'image/png'), 422);
  });

  it('stops with 413 as soon as the count passes the cap, without reading the rest', async () => {
    const { stream, produced } = countingSource(samples.pdf(1024), 50 * 1024 * 1024);
    await expectOutcome(readCheckedUpload(stream, 'application/pdf'), 413);
    // A few chunks of read-ahead past 10 MB at most; nowhere near the 50 MB on offer.
    expect(produced()).to.be.lessThan(MAX_UPLOAD_BYTES + 1024 * 1024);
    // Left for the caller (an HTTP request still needs its 413 response).
    expect(stream.destroyed).to.equal(false);
    stream.destroy();
  });

  it('a smaller cap is honoured and exactly the cap passes', async () => {
    await expectOutcome(readCheckedUpload(Readable.from([samples.pdf(101)]), 'application/pdf', 100), 413);
    expect((await readCheckedUpload(Readable.from([samples.pdf(100)]), 'application/pdf', 100)).size).to.equal(100);
  });

  it('a body that differs from its declared size is refused with 422', async () => {
    await expectOutcome(readCheckedUpload(Readable.from([samples.pdf(100)]), 'application/pdf', undefined, 99), 422);
  });

  it('a source error surfaces as that error', async () => {
    const source = new Readable({ read() { this.destroy(new Error('client went away')); } });
    let caught: unknown;
    await readCheckedUpload(source, 'application/pdf').catch((e: unknown) => (caught = e));
    expect((caught as Error).message).to.equal('client went away');
  });

  it('the guard works as a plain Transform in a pipe and reports its summary', async () => {
    const body = samples.png();
    const guard = new UploadGuard('image/png');
    const out = await readAll(Readable.from([body]).pipe(guard));
    expect(out.equals(body)).to.equal(true);
    expect(guard.summary.size).to.equal(body.length);
  });

  describe('inline base64 attachment.data', () => {
    it('decodes valid base64 (with line breaks) and runs the same checks', () => {
      const body = samples.jpeg();
      const text = body.toString('base64').replace(/(.{76})/g, '$1\r\n');
      const out = decodeInlineData(text, 'image/jpeg');
      expect(out.body.equals(body)).to.equal(true);
      expect(out.sha1Base64).to.equal(createHash('sha1').update(body).digest('base64'));
    });

    it('rejects invalid base64 with 422', async () => {
      for (const bad of ['JVBERi0x*', 'JVBERi0', 'JVBE=i0x', 'JVBERi0x_w==', 'JVBERi0xLjc=A', 42]) {
        await expectOutcome(() => decodeInlineData(bad, 'application/pdf'), 422);
      }
    });

    it('refuses an empty string (422), a mismatched type (415) and an unknown type (415)', async () => {
      await expectOutcome(() => decodeInlineData('', 'application/pdf'), 422);
      await expectOutcome(() => decodeInlineData(samples.exe().toString('base64'), 'application/pdf'), 415);
      await expectOutcome(() => decodeInlineData(samples.pdf().toString('base64'), 'text/plain'), 415);
    });

    it('refuses more than the cap with 413', async () => {
      await expectOutcome(() => decodeInlineData(samples.pdf(MAX_UPLOAD_BYTES + 1).toString('base64'), 'application/pdf'), 413);
      expect(decodeInlineData(samples.pdf(MAX_UPLOAD_BYTES).toString('base64'), 'application/pdf').size).to.equal(MAX_UPLOAD_BYTES);
    });
  });
});
