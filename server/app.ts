import crypto from 'node:crypto';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Knex } from 'knex';
import { configurePassport } from './auth/authenticate';
import { jwks } from './auth/keys';
import { requireToken } from './pipeline/authenticate';
import type { Config } from './config';
import { binaryRouter } from './documents/binary-routes';
import { exportFilesIn } from './documents/export-files';
import { documentHooks } from './documents/hooks';
import type { DocumentService } from './documents/service';
import { bulkRouter } from './fhir/bulk/routes';
import { careRouter } from './care/routes';
import { capabilityStatement } from './fhir/capability';
import { RESOURCE_DEFINITIONS } from './fhir/resources';
import { fhirRouter, FHIR_JSON } from './fhir/router';
import { auditOperationsRouter, type AuditSealDeps } from './fhir/audit-operations';
import { cors, onlyOurCors } from './http/cors';
import { notFound } from './http/errors';
import { errorHandler } from './pipeline/error-handler';
import { rateLimiters } from './pipeline/rate-limit';
import { refuseHostileBody, refuseHostileRequest } from './fhir/hostile-input';
import { refuseUnacceptable } from './fhir/negotiate';
import { logger } from './http/logger';
import { observeRequest } from './ops/metrics';
import { Readiness } from './ops/readiness';
import { runWithRequest } from './http/request-context';
import { mountOAuth } from './oauth/mount';
import { consoleRouter } from './console/router';
import type { OAuthSecrets } from './oauth/shared-secrets';
import type { KeyRing } from './oauth/signing-keys';

export interface AppDeps {
  cfg: Config;
  db: Knex;
  /** The token signing keys, shared by every node through the database. */
  keys: KeyRing;
  /** Cookie and CSRF secrets of the authorization server, shared by every node. */
  oauthSecrets: OAuthSecrets;
  pageSecret: string;
  /** Document storage; without it document uploads answer 503 and attachments read as unavailable. */
  documents?: DocumentService;
  /** Draining and dependency checks behind /readyz; by default the database and the document store. */
  readiness?: Readiness;
  /** The audit seal's key and anchor store ($verify, $checkpoint); unset with AUDIT_SEAL=false. */
  seal?: AuditSealDeps;
}

/** What /readyz checks: a statement through the runtime pool, and the document store. */
export function defaultReadiness(db: Knex, documents?: DocumentService): Readiness {
  return new Readiness([
    { name: 'database', check: async () => { await db.raw('select 1'); return true; } },
    { name: 'documents', check: async () => documents !== undefined && await documents.available() },
  ]);
}

/** Builds the Express app from its parts. No I/O here: tests build it around their own database. */
export function createApp(deps: AppDeps): Express {
  const { cfg, db } = deps;
  const readiness = deps.readiness ?? defaultReadiness(db, deps.documents);
  const knownTypes = new Set([...RESOURCE_DEFINITIONS.map((d) => d.type), 'Binary']);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.set('query parser', 'simple');
  app.use(helmet());
  app.use((req, res, next) => {
    const requestId = /^[A-Za-z0-9\-_.]{1,64}$/.test(String(req.headers['x-request-id'] ?? '')) ? String(req.headers['x-request-id']) : crypto.randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const log = logger.child({ requestId });
    const started = process.hrtime.bigint();
    // A draining node answers what it has and closes the connection, so keep-alive clients reconnect elsewhere.
    if (readiness.isDraining) res.setHeader('Connection', 'close');
    res.on('finish', () => {
      const path = req.originalUrl.split('?')[0];
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ method: req.method, path, status: res.statusCode, ms }, 'request');
      observeRequest({ method: req.method, path, status: res.statusCode, seconds: ms / 1e3 }, knownTypes);
    });
    runWithRequest({ requestId, method: req.method, path: req.path, sourceIp: req.ip, userAgent: req.headers['user-agent'], log }, next);
  });

  // Browser apps on other origins reach the bearer-token surface; sign-in pages and /oidc/auth stay same-origin.
  app.use(['/fhir', '/.well-known', '/oidc/token', '/oidc/jwks', '/oidc/.well-known'], cors(cfg));
  app.use('/oidc', onlyOurCors);
  app.get('/.well-known/jwks.json', (_req, res) => { res.json(jwks(deps.keys.all())); });
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', (_req, res, next) => {
    readiness.report().then((r) => { res.status(r.ready ? 200 : 503).json(r.ready ? { status: 'ready' } : { status: 'not ready', failed: r.failed }); }, next);
  });

  const capability = JSON.stringify(capabilityStatement(cfg));
  app.get('/fhir/metadata', refuseUnacceptable, (_req, res) => { res.setHeader('Content-Type', FHIR_JSON); res.end(capability); });

  // Revocation of our tokens is checked in each request's first statement (withClinic), not here.
  const pp = configurePassport(cfg, deps.keys);
  // No pp.initialize(): every authenticate call takes a callback without a session, which needs none.
  mountOAuth(app, { cfg, db, keys: deps.keys, secrets: deps.oauthSecrets, passport: pp });
  // Rate limits (README, "Rate limits"): per address until the token is verified, then per user or client.
  // The compliance console: its own session cookie, pages in the same audited RLS transactions as the API.
  app.use('/console', consoleRouter({ cfg, db, keys: deps.keys, csrfSecret: deps.oauthSecrets.csrfSecret, seal: deps.seal }));
  const limits = rateLimiters(cfg.rateLimit);
  app.use('/fhir', limits.byAddress, requireToken(cfg, pp, db), limits.byCaller);
  // Path, query, headers, encoding and route checked before any router (README, "Hostile input").
  app.use('/fhir', refuseHostileRequest, refuseUnacceptable);
  // Raw document uploads stream through their checks: routed before any body parser.
  app.use('/fhir/Binary', binaryRouter({ db, cfg, documents: deps.documents }));
  // A type whose definition needs more room (DocumentReference: inline document data) gets it on its
  // own writes and on Bundles, which may carry it.
  const bodyOf = (limit: number) => express.text({ type: () => true, limit: Math.max(cfg.maxBodyBytes, limit) });
  for (const d of RESOURCE_DEFINITIONS) if (d.bodyLimitBytes) app.use(`/fhir/${d.type}`, bodyOf(d.bodyLimitBytes));
  app.post('/fhir', bodyOf(Math.max(0, ...RESOURCE_DEFINITIONS.map((d) => d.bodyLimitBytes ?? 0))));
  // Bodies are read as text and parsed inside the audited interaction (see fhir/body.ts).
  app.use('/fhir', express.text({ type: () => true, limit: cfg.maxBodyBytes }), refuseHostileBody);
  app.use('/fhir', auditOperationsRouter({ db }, deps.seal));
  // Bulk Data export (README, "Bulk Data"): its own paths, before the type routes would take `$export` for a type.
  app.use('/fhir', bulkRouter({ db, cfg, files: deps.documents && exportFilesIn(deps.documents.store) }));
  // Care relationships, break-glass and the clinic's access policy (FHIR operations; README, "Security model").
  app.use('/fhir', careRouter(db));
  app.use('/fhir', fhirRouter({ db, cfg, pageSecret: deps.pageSecret, hooks: documentHooks(deps.documents) }));
  app.use(() => { throw notFound('No such endpoint'); });
  app.use(errorHandler(db));
  return app;
}
