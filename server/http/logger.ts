import pino from 'pino';
import { LOG_LEVELS } from '../config';

// Built at import, before configuration is read: a bad LOG_LEVEL is reported by loadConfig as a
// ConfigError, and boot.ts sets the configured level.
const early = process.env.LOG_LEVEL;

/** Structured logs; never PHI (no names, birth dates, identifiers or bodies). */
export const logger = pino({
  level: early !== undefined && LOG_LEVELS.includes(early) ? early : 'info',
  base: undefined,
  redact: ['req.headers.authorization', 'headers.authorization'],
});
export type Logger = pino.Logger;
