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
    default: return null;
  }
}
