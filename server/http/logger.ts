import pino from 'pino';
import { LOG_LEVELS } from '../config';

// Built at import, before configuration is read: a bad LOG_LEVEL is reported by loadConfig as a
// ConfigError, and boot.ts sets the configured level.
const early = process.env.LOG_LEVEL;

// Log lines never block a request: they are buffered (up to 4 KB, about twenty request lines) and
// written asynchronously, at least every second and synchronously when the process exits.
const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
setInterval(() => destination.flush(), 1000).unref();

/** Structured logs; never PHI (no names, birth dates, identifiers or bodies). */
export const logger = pino({
  level: early !== undefined && LOG_LEVELS.includes(early) ? early : 'info',
  base: undefined,
  redact: ['req.headers.authorization', 'headers.authorization'],
}, destination);
export type Logger = pino.Logger;

/** Writes buffered log lines now: after a line operators wait for (ready, shutting down). */
export function flushLogs(): void {
  try { destination.flushSync(); } catch { /* the asynchronous write already in flight carries them */ }
}
