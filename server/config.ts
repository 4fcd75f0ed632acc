import os from 'node:os';
import path from 'node:path';

/**
 * Every setting, read from the environment and validated once. A bad value stops the process
 * with a message naming the setting and what it accepts.
 */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Public base URL of this server, e.g. http://localhost:8080; the FHIR base is `${baseUrl}/fhir`. */
  baseUrl: string;
  fhirBaseUrl: string;
  databaseUrl?: string;
  embeddedPgPort: number;
  dbRuntimeUser: string;
  dbRuntimePassword?: string;
  dbPoolMax: number;
  /** Server processes (node:cluster); more than one: a primary prepares once and forks them. */
  workers: number;
  logLevel: string;
  maxBodyBytes: number;
  /** Resources per Bulk Data export file (BULK_FILE_ROWS): the most an export holds in memory at once. */
  bulkFileRows: number;
  /** Hours a finished Bulk Data export stays downloadable (BULK_EXPORT_TTL_HOURS); then its files and row go. */
  bulkExportTtlHours: number;
  tokenIssuer: string;
  tokenAudience: string;
  clinicClaim: string;
  /** Longest lifetime (exp - iat, seconds) a token signed by this server may have; longer ones are refused. */
  maxTokenLifetime: number;
  external?: { issuer: string; jwksUrl: string; audience: string };
  pageSecret?: string;
  /** Seals secrets at rest (base64 32 bytes, from a key manager); unset: DATA_DIR/secrets/master.key. */
  secretsKey?: string;
  /** Keys a rotation is moving away from: read, never used to seal (comma-separated SECRETS_KEY_PREVIOUS). */
  secretsKeysPrevious: string[];
  /** The audit seal (README, "Audit integrity"). */
  auditSeal: {
    /** AUDIT_SEAL=false: rows carry no hash and nothing is sealed (only to measure what the seal costs). */
    enabled: boolean;
    /** Ed25519 seed signing checkpoints (base64 32 bytes, from a key manager); unset: DATA_DIR/secrets/audit-seal-key. */
    key?: string;
    intervalMs: number;
    /** How often the sealer copies each clinic's newest checkpoint to the object store (AUDIT_ANCHOR_INTERVAL_MS). */
    anchorIntervalMs: number;
  };
  oauth: OAuthSettings;
  documents: DocumentSettings;
  /** On SIGTERM, how long in-flight requests and uploads may run before their connections are cut (ms). */
  shutdownGraceMs: number;
  /** Prometheus `/metrics` on its own port; unset: not served at all. */
  metrics?: { host: string; port: number };
  rateLimit: RateLimitSettings;
  /** Origins whose browser apps may call the API with a bearer token (CORS): any (`*`), a list, or none. */
  corsOrigins: '*' | readonly string[];
}

/** API request limits, counted in each server process (see README, "Rate limits"); 0 disables one. */
export interface RateLimitSettings {
  /** Requests per window for one authenticated user (or client, for backend services). */
  perUser: number;
  /** Requests per window from one source address that do not authenticate. */
  perAddress: number;
  /** Length of the fixed window, seconds. */
  windowSeconds: number;
}

/** Where document bytes live (see README, "Documents"). */
export interface DocumentSettings {
  /** An S3 API (MinIO, AWS S3, ...); unset: the embedded store under DATA_DIR/s3 on a free loopback port. */
  endpoint?: S3Endpoint;
  /** The host that browsers reach, when it differs from `endpoint` (signed links are bound to their host). */
  publicEndpoint?: S3Endpoint;
  /** Required with `endpoint`; for the embedded store, unset means generated into DATA_DIR/secrets. */
  accessKey?: string;
  secretKey?: string;
  bucket: string;
  region: string;
  pathStyle: boolean;
  /** Lifetime of a signed GET link, seconds (at most one hour). */
  linkTtl: number;
  /** Objects without a Binary row older than this are removed by the sweeper. */
  orphanAgeMinutes: number;
  /** Server-side encryption asked of the store on every write (S3_SSE=AES256), or none. */
  sse?: 'AES256';
  /** Loopback port of the embedded store; unset: chosen once and kept in DATA_DIR, so signed links survive a restart. */
  embeddedPort?: number;
}

export interface S3Endpoint { host: string; port: number; useSSL: boolean }

/** The built-in SMART authorization server's policy knobs (see README, "Authorization"). */
export interface OAuthSettings {
  /** Lifetime of access tokens issued to apps (authorization code / refresh), seconds. */
  accessTokenTtl: number;
  /** Lifetime of backend-services (client_credentials) tokens, seconds. */
  systemTokenTtl: number;
  /** Lifetime of offline_access refresh tokens, seconds (online_access ones end with the session). */
  refreshTokenTtl: number;
  /** Staff must enter a TOTP code at sign-in (an account without one cannot sign in). */
  mfaRequired: boolean;
  /** Session and CSRF cookies carry `Secure` (browsers honour it on https and on loopback http). */
  cookieSecure: boolean;
  /** Failed sign-ins from one source address (any accounts) within 15 minutes that lock the address. */
  signinAddressLimit: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name}=${raw} is invalid: expected an integer from ${min} to ${max}`);
  }
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new ConfigError(`${name}=${raw} is invalid: expected true or false`);
}

function url(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    const u = new URL(raw);
    if (!/^https?:$|^postgres(ql)?:$/.test(u.protocol)) throw new Error('protocol');
    return raw.replace(/\/$/, '');
  } catch {
    throw new ConfigError(`${name}=${raw} is invalid: expected an absolute http(s):// or postgres:// URL`);
  }
}

/** `https://host[:port]`, `http://host[:port]` or `host[:port]` (then S3_USE_SSL decides, default true). */
function s3Endpoint(env: Env, name: string): S3Endpoint | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const m = /^(?:(https?):\/\/)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?\/?$/.exec(raw);
  if (!m) throw new ConfigError(`${name}=${raw} is invalid: expected http(s)://host[:port] or host[:port], without a path`);
  const [, scheme, host, port] = m;
  const declared = env.S3_USE_SSL === undefined || env.S3_USE_SSL === '' ? undefined : bool(env, 'S3_USE_SSL', true);
  if (scheme && declared !== undefined && declared !== (scheme === 'https')) {
    throw new ConfigError(`S3_USE_SSL=${env.S3_USE_SSL} contradicts the ${scheme}:// of ${name}`);
  }
  const useSSL = scheme ? scheme === 'https' : declared ?? true;
  const portNumber = port === undefined ? (useSSL ? 443 : 80) : Number(port);
  if (portNumber < 1 || portNumber > 65535) throw new ConfigError(`${name}=${raw} is invalid: port must be 1-65535`);
  return { host, port: portNumber, useSSL };
}

function s3Sse(env: Env): 'AES256' | undefined {
  const raw = env.S3_SSE;
  if (raw === undefined || raw === '' || raw === 'off') return undefined;
  if (raw === 'AES256') return raw;
  throw new ConfigError(`S3_SSE=${raw} is invalid: expected AES256 or off`);
}

/** base64 (or base64url) of exactly 32 bytes. */
function secretKey(name: string, raw: string): string {
  const t = raw.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t) || Buffer.from(t, /[+/=]/.test(t) ? 'base64' : 'base64url').length !== 32) {
    throw new ConfigError(`${name} is invalid: expected 32 random bytes, base64-encoded (openssl rand -base64 32)`);
  }
  return t;
}

function documentSettings(env: Env): DocumentSettings {
  bool(env, 'S3_USE_SSL', true); // validated even when unused, so a typo is not silently ignored
  const endpoint = s3Endpoint(env, 'S3_ENDPOINT');
  const accessKey = env.S3_ACCESS_KEY || undefined;
  const secretKey = env.S3_SECRET_KEY || undefined;
  if (endpoint && (!accessKey || !secretKey)) {
    throw new ConfigError('S3_ACCESS_KEY and S3_SECRET_KEY must be set with S3_ENDPOINT (anonymous access is not supported)');
  }
  if (!endpoint && env.S3_PUBLIC_ENDPOINT) throw new ConfigError('S3_PUBLIC_ENDPOINT needs S3_ENDPOINT');
  const bucket = env.S3_BUCKET || 'clinic-documents';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(`S3_BUCKET=${bucket} is invalid: expected a 3-63 character S3 bucket name (a-z, 0-9, '.', '-')`);
  }
  const region = env.S3_REGION || 'us-east-1';
  if (!/^[a-z0-9-]{2,32}$/.test(region)) throw new ConfigError(`S3_REGION=${region} is invalid: expected a region name such as us-east-1`);
  return {
    endpoint,
    publicEndpoint: s3Endpoint(env, 'S3_PUBLIC_ENDPOINT'),
    accessKey,
    secretKey,
    bucket,
    region,
    pathStyle: bool(env, 'S3_PATH_STYLE', true),
    linkTtl: int(env, 'DOCUMENT_LINK_TTL', 3600, 1, 3600),
    orphanAgeMinutes: int(env, 'DOCUMENT_ORPHAN_MINUTES', 60, 5, 7 * 24 * 60),
    sse: s3Sse(env),
    embeddedPort: int(env, 'EMBEDDED_S3_PORT', 0, 0, 65535) || undefined,
  };
}

/** METRICS_PORT opens /metrics on a port of its own, loopback unless METRICS_HOST says otherwise. */
function metricsSettings(env: Env, publicPort: number): Config['metrics'] {
  const host = env.METRICS_HOST || '127.0.0.1';
  if (env.METRICS_PORT === undefined || env.METRICS_PORT === '') {
    if (env.METRICS_HOST) throw new ConfigError('METRICS_HOST needs METRICS_PORT');
    return undefined;
  }
  const port = int(env, 'METRICS_PORT', 0, 0, 65535);
  if (port !== 0 && port === publicPort) throw new ConfigError(`METRICS_PORT=${port} is invalid: it must differ from PORT (metrics are never served on the public port)`);
  return { host, port };
}

/** CORS_ORIGINS: unset or `*` = any origin, `none` = no CORS, else a comma list of origins (scheme://host[:port]). */
function corsOrigins(env: Env): Config['corsOrigins'] {
  const raw = (env.CORS_ORIGINS ?? '').trim();
  if (raw === '' || raw === '*') return '*';
  if (raw === 'none') return [];
  return raw.split(',').map((o) => o.trim()).filter(Boolean).map((o) => {
    let origin: string | undefined;
    try { origin = new URL(o).origin; } catch { origin = undefined; }
    if (!origin || origin === 'null' || origin !== o.replace(/\/$/, '')) {
      throw new ConfigError(`CORS_ORIGINS entry ${o} is invalid: expected *, none, or origins such as https://app.example.org (scheme, host and port only)`);
    }
    return origin;
  });
}

export const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** One process per core in production; one elsewhere (development and tests). */
function defaultWorkers(env: Env): number {
  return env.NODE_ENV === 'production' ? os.availableParallelism() : 1;
}

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 8080, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const dataDir = path.resolve(env.DATA_DIR || './.data');
  const baseUrl = url(env, 'BASE_URL') ?? `http://localhost:${port}`;
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL=${logLevel} is invalid: expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const extIssuer = url(env, 'EXTERNAL_ISSUER');
  const extJwks = url(env, 'EXTERNAL_JWKS_URL');
  const extAud = env.EXTERNAL_AUDIENCE || undefined;
  const extSet = [extIssuer, extJwks, extAud].filter(Boolean).length;
  if (extSet !== 0 && extSet !== 3) {
    throw new ConfigError('EXTERNAL_ISSUER, EXTERNAL_JWKS_URL and EXTERNAL_AUDIENCE must be set together (or none of them)');
  }
  const runtimeUser = env.DB_RUNTIME_USER || 'fhir_runtime';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(runtimeUser)) {
    throw new ConfigError(`DB_RUNTIME_USER=${runtimeUser} is invalid: expected a lower-case PostgreSQL identifier`);
  }
  const pageSecret = env.PAGE_SECRET || undefined;
  if (pageSecret !== undefined && pageSecret.length < 32) {
    throw new ConfigError('PAGE_SECRET is invalid: expected at least 32 characters');
  }
  const fhirBaseUrl = `${baseUrl}/fhir`;
  const cfg: Config = {
    port,
    host,
    dataDir,
    baseUrl,
    fhirBaseUrl,
    databaseUrl: url(env, 'DATABASE_URL'),
    embeddedPgPort: int(env, 'EMBEDDED_PG_PORT', 54329, 1024, 65535),
    dbRuntimeUser: runtimeUser,
    dbRuntimePassword: env.DB_RUNTIME_PASSWORD || undefined,
    dbPoolMax: int(env, 'DB_POOL_MAX', 16, 1, 500),
    workers: int(env, 'WORKERS', defaultWorkers(env), 1, 256),
    logLevel,
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    bulkFileRows: int(env, 'BULK_FILE_ROWS', 10_000, 1, 1_000_000),
    bulkExportTtlHours: int(env, 'BULK_EXPORT_TTL_HOURS', 24, 1, 720),
    tokenIssuer: url(env, 'TOKEN_ISSUER') ?? baseUrl,
    tokenAudience: env.TOKEN_AUDIENCE || fhirBaseUrl,
    clinicClaim: env.CLINIC_CLAIM || 'clinic',
    maxTokenLifetime: int(env, 'MAX_TOKEN_LIFETIME', 86_400, 60, 7 * 86_400),
    external: extIssuer && extJwks && extAud ? { issuer: extIssuer, jwksUrl: extJwks, audience: extAud } : undefined,
    pageSecret,
    secretsKey: env.SECRETS_KEY ? secretKey('SECRETS_KEY', env.SECRETS_KEY) : undefined,
    secretsKeysPrevious: (env.SECRETS_KEY_PREVIOUS ?? '').split(',').filter((k) => k.trim()).map((k) => secretKey('SECRETS_KEY_PREVIOUS', k)),
    auditSeal: {
      enabled: bool(env, 'AUDIT_SEAL', true),
      key: env.AUDIT_SEAL_KEY ? secretKey('AUDIT_SEAL_KEY', env.AUDIT_SEAL_KEY) : undefined,
      intervalMs: int(env, 'AUDIT_SEAL_INTERVAL_MS', 2000, 100, 60_000),
      anchorIntervalMs: int(env, 'AUDIT_ANCHOR_INTERVAL_MS', 10_000, 100, 300_000),
    },
    oauth: {
      accessTokenTtl: int(env, 'ACCESS_TOKEN_TTL', 900, 60, 3600),
      systemTokenTtl: int(env, 'SYSTEM_TOKEN_TTL', 300, 60, 3600),
      refreshTokenTtl: int(env, 'REFRESH_TOKEN_TTL', 30 * 86_400, 3600, 365 * 86_400),
      mfaRequired: bool(env, 'MFA_REQUIRED', true),
      cookieSecure: bool(env, 'COOKIE_SECURE', true),
      signinAddressLimit: int(env, 'SIGNIN_ADDRESS_LIMIT', 50, 5, 100_000),
    },
    documents: documentSettings(env),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 25_000, 0, 600_000),
    metrics: metricsSettings(env, port),
    rateLimit: {
      perUser: int(env, 'RATE_LIMIT_PER_USER', 1200, 0, 10_000_000),
      perAddress: int(env, 'RATE_LIMIT_PER_ADDRESS', 3000, 0, 10_000_000),
      windowSeconds: int(env, 'RATE_LIMIT_WINDOW', 60, 1, 3600),
    },
    corsOrigins: corsOrigins(env),
  };
  const longest = Math.max(cfg.oauth.accessTokenTtl, cfg.oauth.systemTokenTtl);
  if (longest > cfg.maxTokenLifetime) {
    throw new ConfigError(`MAX_TOKEN_LIFETIME=${cfg.maxTokenLifetime} is shorter than ACCESS_TOKEN_TTL or SYSTEM_TOKEN_TTL (${longest}): their tokens would be refused`);
  }
  if (cfg.embeddedPgPort === cfg.documents.embeddedPort && !cfg.databaseUrl) {
    throw new ConfigError(`EMBEDDED_S3_PORT=${cfg.documents.embeddedPort} is the same as EMBEDDED_PG_PORT: give each embedded service its own port`);
  }
  return cfg;
}
