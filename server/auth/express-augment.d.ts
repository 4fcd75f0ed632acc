import type { AccessContext } from './access-context';

declare global {
  namespace Express {
    interface Request {
      /** Set by the authenticate middleware from a verified token. */
      access?: AccessContext;
      requestId?: string;
    }
  }
}
export {};
