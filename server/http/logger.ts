import pino from 'pino';

/** Structured logs; never PHI (no names, birth dates, identifiers or bodies). */
export const logger = pino({
  level: process.env.LOG_LEVEL || 'info',
  base: undefined,
  redact: ['req.headers.authorization', 'headers.authorization'],
});
export type Logger = pino.Logger;
