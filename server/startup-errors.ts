import path from 'node:path';
import type { Config } from './config';

/**
 * Start-up failures in words an operator can act on: which setting, which port or path, and why.
 * Some libraries reject with `undefined` or a bare errno; those never reach the terminal as such.
 */

type Errno = NodeJS.ErrnoException & { port?: number; address?: string };

function settingOfPort(cfg: Config | undefined, port: number | undefined): string {
  if (!cfg || port === undefined) return 'the port setting';
  if (port === cfg.port) return 'PORT';
  if (port === cfg.embeddedPgPort) return 'EMBEDDED_PG_PORT';
  if (port === cfg.documents.embeddedPort) return 'EMBEDDED_S3_PORT';
  return 'the port setting';
}

function underDataDir(cfg: Config | undefined, file: string | undefined): boolean {
  if (!cfg || !file) return false;
  const rel = path.relative(cfg.dataDir, path.resolve(file));
  return !rel.startsWith('..') && !path.isAbsolute(rel);
}

export function describeStartupError(err: unknown, cfg?: Config): string {
  if (err === undefined || err === null) return 'a component failed without giving a reason (see the log lines above)';
  if (!(err instanceof Error)) return String(err);
  const e = err as Errno;
  switch (e.code) {
    case 'EADDRINUSE':
      return `port ${e.port ?? '?'} is busy (another process listens on it): set ${settingOfPort(cfg, e.port)} to a free port or stop that process`;
    case 'EADDRNOTAVAIL':
      return `address ${e.address ?? '?'} is not one of this machine's: check HOST`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'ENOTDIR':
    case 'EEXIST':
      if (e.syscall === 'listen') return `may not listen on port ${e.port ?? '?'} (${e.code}): choose a port above 1023 in ${settingOfPort(cfg, e.port)}`;
      return underDataDir(cfg, e.path)
        ? `cannot write ${e.path} (${e.code}): DATA_DIR=${cfg?.dataDir} must be a directory this user (uid ${process.getuid?.() ?? '?'}) can create and write`
        : `cannot use ${e.path ?? 'a file'} (${e.code}): ${e.message}`;
    case 'ECONNREFUSED':
      return `nothing answers at ${e.address ?? '?'}:${e.port ?? '?'}: check DATABASE_URL or S3_ENDPOINT and that the service runs`;
    default:
      return e.message || e.name;
  }
}
