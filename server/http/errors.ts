import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';

export type IssueCode = OperationOutcomeIssue['code'];

/**
 * An error with a FHIR shape. Code anywhere throws it; the one error handler in http/handler.ts
 * turns it into an OperationOutcome response with `status`.
 */
export class OperationOutcomeError extends Error {
  readonly status: number;
  readonly issues: OperationOutcomeIssue[];
  readonly headers: Record<string, string>;

  constructor(status: number, issues: OperationOutcomeIssue | OperationOutcomeIssue[], headers: Record<string, string> = {}) {
    const list = Array.isArray(issues) ? issues : [issues];
    super(list.map((i) => i.diagnostics ?? i.code).join('; '));
    this.name = 'OperationOutcomeError';
    this.status = status;
    this.issues = list;
    this.headers = headers;
  }

  toOperationOutcome(): OperationOutcome {
    return { resourceType: 'OperationOutcome', issue: this.issues };
  }
}

function issue(code: IssueCode, diagnostics: string, expression?: string[]): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics, ...(expression ? { expression } : {}) };
}

export const badRequest = (msg: string, expression?: string[]) => new OperationOutcomeError(400, issue('invalid', msg, expression));
export const unprocessable = (msg: string, expression?: string[]) => new OperationOutcomeError(422, issue('processing', msg, expression));
export const notFound = (msg = 'Resource not found') => new OperationOutcomeError(404, issue('not-found', msg));
export const gone = (msg = 'Resource has been deleted') => new OperationOutcomeError(410, issue('deleted', msg));
export const forbidden = (msg = 'Access denied') => new OperationOutcomeError(403, issue('forbidden', msg));
export const unauthorized = (msg = 'Authentication required') =>
  new OperationOutcomeError(401, issue('login', msg), { 'WWW-Authenticate': 'Bearer realm="fhir"' });
export const preconditionFailed = (msg: string) => new OperationOutcomeError(412, issue('conflict', msg));
export const conflict = (msg: string) => new OperationOutcomeError(409, issue('conflict', msg));
export const methodNotAllowed = (msg: string) => new OperationOutcomeError(405, issue('not-supported', msg));
export const notSupported = (msg: string) => new OperationOutcomeError(400, issue('not-supported', msg));
export const tooLarge = (msg: string) => new OperationOutcomeError(413, issue('too-costly', msg));
export const unsupportedMediaType = (msg: string) => new OperationOutcomeError(415, issue('not-supported', msg));
export const serviceUnavailable = (msg: string) => new OperationOutcomeError(503, issue('transient', msg));

const beforeAudit = new WeakSet<OperationOutcomeError>();

/** Marks a refusal made before any audited work ran (edge checks): the error handler owes it an AuditEvent. */
export function refusedAtEdge(e: OperationOutcomeError): OperationOutcomeError {
  beforeAudit.add(e);
  return e;
}

export function refusedBeforeAudit(err: unknown): boolean {
  return err instanceof OperationOutcomeError && beforeAudit.has(err);
}
