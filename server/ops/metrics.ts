import client from 'prom-client';

/**
 * Prometheus metrics of this process, in prom-client's global registry (so a cluster's primary can
 * gather its workers' with AggregatorRegistry). Labels are bounded: method, interaction and
 * resource type come from fixed sets, never from what a client wrote.
 */

export const registry = client.register;

client.collectDefaultMetrics({ register: registry });

const httpRequests = new client.Counter({
  name: 'fhir_http_requests_total',
  help: 'HTTP requests answered, by method, FHIR interaction, resource type and status',
  labelNames: ['method', 'interaction', 'type', 'status'] as const,
});

const httpDuration = new client.Histogram({
  name: 'fhir_http_request_duration_seconds',
  help: 'Time from request to response, by method, FHIR interaction and resource type',
  labelNames: ['method', 'interaction', 'type'] as const,
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
});

const auditWriteFailures = new client.Counter({
  name: 'fhir_audit_write_failures_total',
  help: 'AuditEvents that could not be written: with a commit (the request failed) or recording a refusal',
  labelNames: ['stage'] as const,
});

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The FHIR interaction a request asks for, read from its method and path (relative to /fhir). */
export function interactionOf(method: string, path: string): string {
  if (path !== '/fhir' && !path.startsWith('/fhir/')) return path.startsWith('/oauth') || path.startsWith('/.well-known') ? 'oauth' : 'other';
  const [type, id, h, vid] = path.slice('/fhir'.length).split('/').filter(Boolean);
  if (!type) return method === 'POST' ? 'batch' : 'search-system';
  if (type === 'metadata') return 'capabilities';
  if (type.startsWith('$') || id?.startsWith('$') || h?.startsWith('$')) return 'operation';
  if (id === '_search' || (!id && method === 'GET')) return 'search-type';
  if (id === '_history') return 'history-type';
  if (!id) return method === 'POST' ? 'create' : `conditional-${method.toLowerCase()}`;
  if (h === '_history') return vid ? 'vread' : 'history-instance';
  return ({ GET: 'read', HEAD: 'read', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? 'other';
}

/** Counts and times one answered request; `type` only from `knownTypes`. */
export function observeRequest(r: { method: string; path: string; status: number; seconds: number }, knownTypes: ReadonlySet<string>): void {
  const method = METHODS.has(r.method) ? r.method : 'OTHER';
  const interaction = interactionOf(method, r.path);
  const segment = r.path.startsWith('/fhir/') ? r.path.split('/')[2] : '';
  const type = knownTypes.has(segment) ? segment : '';
  httpRequests.inc({ method, interaction, type, status: String(r.status) });
  httpDuration.observe({ method, interaction, type }, r.seconds);
}

export function countAuditWriteFailure(stage: 'commit' | 'refusal'): void {
  auditWriteFailures.inc({ stage });
}

const pools = new Map<string, PoolLike>();

const used = new client.Gauge({
  name: 'fhir_db_pool_connections', help: 'Database pool connections by state (used, free, pending_acquire, pending_create)',
  labelNames: ['pool', 'state'] as const,
  collect() {
    for (const [pool, p] of pools) {
      this.set({ pool, state: 'used' }, p.numUsed());
      this.set({ pool, state: 'free' }, p.numFree());
      this.set({ pool, state: 'pending_acquire' }, p.numPendingAcquires());
      this.set({ pool, state: 'pending_create' }, p.numPendingCreates());
    }
  },
});

const acquireWait = new client.Histogram({
  name: 'fhir_db_pool_acquire_seconds', help: 'Time a query waited for a pool connection',
  labelNames: ['pool', 'outcome'] as const,
  buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
});

/** The part of a knex (tarn) pool that metrics read. */
export interface PoolLike {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
  on(event: 'acquireRequest' | 'acquireSuccess' | 'acquireFail', fn: (eventId: number) => void): void;
}

/** Gauges of a connection pool's use, and how long requests wait for a connection. */
export function watchPool(name: string, pool: PoolLike): void {
  const labels = { pool: name };
  pools.set(name, pool);
  const started = new Map<number, bigint>();
  pool.on('acquireRequest', (id) => { started.set(id, process.hrtime.bigint()); });
  const done = (id: number, ok: boolean) => {
    const t = started.get(id);
    started.delete(id);
    if (t !== undefined) acquireWait.observe({ ...labels, outcome: ok ? 'acquired' : 'failed' }, Number(process.hrtime.bigint() - t) / 1e9);
  };
  pool.on('acquireSuccess', (id) => done(id, true));
  pool.on('acquireFail', (id) => done(id, false));
}
