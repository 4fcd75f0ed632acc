import pino from 'pino';
import { LOG_LEVELS } from '../config';

// Built at import, before configuration is read: a bad LOG_LEVEL is reported by loadConfig as a
// ConfigError, and boot.ts sets the configured level.
const early = process.env.LOG_LEVEL;

// Log lines never block a request: they are buffered (up to 4 KB, about twenty request lines) and
// written asynchronously, at least every second and synchronously when the process exits.
const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
setInterval(() => destination.flush(), 1000).unref();

// knex prefixes a failed statement's text, values inlined, to the driver's message ("<sql> - <message>").
const STATEMENT_PREFIX = /^((?:\w*error: )?)(?:select|insert|update|delete|with|begin|commit|rollback|set|savepoint|release|reset)\b[\s\S]* - /i;

/** An error as logged: the statement and the server's detail (which quote row values) left out. */
function safeError(err: Error): Record<string, unknown> {
  const s = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  if (typeof s.message === 'string') s.message = s.message.replace(STATEMENT_PREFIX, '$1');
  if (typeof s.stack === 'string') {
    const at = s.stack.indexOf('\n    at ');
    const head = at < 0 ? s.stack : s.stack.slice(0, at);
    s.stack = head.replace(STATEMENT_PREFIX, '$1') + (at < 0 ? '' : s.stack.slice(at));
  }
  for (const k of ['detail', 'where', 'internalQuery', 'parameters', 'bindings', 'sql']) delete s[k];
  return s;
}

/** Structured logs; never PHI (no names, birth dates, identifiers or bodies). */
export const logger = pino({
  level: early !== undefined && LOG_LEVELS.includes(early) ? early : 'info',
  base: undefined,
  redact: ['req.headers.authorization', 'headers.authorization'],
  serializers: { err: safeError },
}, destination);
export type Logger = pino.Logger;

/** Writes buffered log lines now: after a line operators wait for (ready, shutting down). */
export function flushLogs(): void {
  try { destination.flushSync(); } catch { /* the asynchronous write already in flight carries them */ }
}
