import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

/**
 * The Chromium the browser tests drive: `CHROMIUM_PATH` when set, otherwise the headless Chromium
 * that the `@sparticuz/chromium` devDependency ships inside its npm package (bin/chromium.br),
 * unpacked once per package version into node_modules/.cache. No download, no system package.
 *
 * The package's own executablePath() is not used: it writes a shared /tmp/chromium with mode 0700,
 * reused whatever its owner or version, which breaks when root and another user share a machine.
 */
export async function chromiumPath(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const pkgRoot = path.resolve(path.dirname(require.resolve('@sparticuz/chromium')), '..', '..');
  const { version } = JSON.parse(fs.readFileSync(path.join(pkgRoot, 'package.json'), 'utf8')) as { version: string };
  const packed = path.join(pkgRoot, 'bin', 'chromium.br');
  const dir = path.join(pkgRoot, '..', '..', '.cache', `sparticuz-chromium-${version}`);
  const binary = path.join(dir, 'chromium');
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(dir, { recursive: true });
  // Unpack beside it and rename, so a parallel or interrupted run never sees half a binary.
  const partial = `${binary}.${process.pid}.partial`;
  try {
    await pipeline(fs.createReadStream(packed), zlib.createBrotliDecompress(), fs.createWriteStream(partial, { mode: 0o755 }));
    fs.renameSync(partial, binary);
  } finally {
    fs.rmSync(partial, { force: true });
  }
  return binary;
}
