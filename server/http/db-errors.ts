import { badRequest, conflict, forbidden, OperationOutcomeError, unprocessable } from './errors';

/**
 * PostgreSQL errors that a client's request can cause, as the 4xx they deserve. Anything else is
 * ours and stays a 500.
 */
export function translateDbError(err: unknown): OperationOutcomeError | null {
  if (err instanceof OperationOutcomeError) return err;
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return null;
  switch (code) {
    case '42501': return forbidden('Access denied: the write is outside what this token may change');
    case '22P02':
    case '22007':
    case '22008': return badRequest('A value has an invalid format');
    case '22P05': // untranslatable character (\u0000 in JSON), should the edge checks ever miss one
    case '22021': return badRequest('A value holds a character that cannot be stored');
    case '23505': return conflict('A resource with the same identity already exists');
    case '40001':
    case '40P01': return conflict('Concurrent modification: retry the request');
    case '54000': return unprocessable('A value is too large to store');
    case '22003': return unprocessable('A number is out of range');
    // A check constraint (a share longer than 30 days, a grant longer than 24 h...) the request ran into.
    case '23514': return unprocessable('A value is outside what this server accepts');
    default: return null;
  }
}

/** Seconds a client is told to wait (Retry-After) when the database cannot be reached. */
export const DB_RETRY_AFTER_SECONDS = 1;

// Class 08 (connection exception) and 57P01-57P03 (the server shutting down, crashed, or starting).
const UNAVAILABLE_SQLSTATES = new Set(['08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
// Raised by pg and knex without a code: a connection lost mid-query, or no connection free in time.
// knex may prefix the statement, so the phrase is looked for anywhere.
const UNAVAILABLE_MESSAGES = /Connection terminated|Client has encountered a connection error|Knex: Timeout acquiring a connection|Connection ended unexpectedly/;

function isUnavailable(err: object): boolean {
  const { code, message, syscall, errors } = err as { code?: unknown; message?: unknown; syscall?: unknown; errors?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
  // The embedded cluster's Unix socket is gone while it restarts.
  if (code === 'ENOENT' && syscall === 'connect') return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true;
  // Node's connect to a name with several addresses fails with every attempt's error.
  return Array.isArray(errors) && errors.some((e) => e && typeof e === 'object' && isUnavailable(e));
}

/**
 * The database could not be reached (down, restarting, pool exhausted): not the client's fault, and
 * not a bug of ours either. A 503 with Retry-After tells the client to try again; null otherwise.
 */
export function unavailableDbError(err: unknown): OperationOutcomeError | null {
  if (err instanceof OperationOutcomeError || !err || typeof err !== 'object') return null;
  if (!isUnavailable(err)) return null;
  return new OperationOutcomeError(503, { severity: 'error', code: 'transient', diagnostics: 'The database is unavailable: retry shortly' },
    { 'Retry-After': String(DB_RETRY_AFTER_SECONDS) });
}
