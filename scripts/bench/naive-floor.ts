/**
 * The naive floor: what a plain `node:http` + `pg` service does for each benchmark scenario, the
 * naive way. Five round trips per request (BEGIN; set role, clinic and user; the scenario's own
 * statement; INSERT a small audit row; COMMIT), on the server's runtime login, so RLS decides
 * every row as it does for the server. Its statements are its own, written to answer each
 * scenario's question; they are not tied to the server's.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import pg from 'pg';

/** The audit table the naive floor writes one row per request into (created by `ensureNaiveAuditTable`). */
export const NAIVE_AUDIT_TABLE = 'bench_naive_audit';

/**
 * A tenant table like the others (owned by the owner role, RLS forced, clinic-isolated), with a
 * handful of columns and about 200 bytes of JSON per row. Run with the migration account.
 */
export async function ensureNaiveAuditTable(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`begin; set local role fhir_owner;
      create table if not exists ${NAIVE_AUDIT_TABLE} (
        id uuid primary key default gen_random_uuid(),
        clinic_id uuid not null,
        user_id uuid not null,
        recorded timestamptz not null default now(),
        action text not null,
        detail jsonb not null
      );
      alter table ${NAIVE_AUDIT_TABLE} enable row level security;
      alter table ${NAIVE_AUDIT_TABLE} force row level security;
      drop policy if exists isolate_clinic on ${NAIVE_AUDIT_TABLE};
      create policy isolate_clinic on ${NAIVE_AUDIT_TABLE}
        using (clinic_id = (select app_clinic_id())) with check (clinic_id = (select app_clinic_id()));
      grant select, insert on ${NAIVE_AUDIT_TABLE} to fhir_app;
      commit;`);
  } finally {
    await client.end();
  }
}

const SET_CONTEXT = "select set_config('role', 'fhir_app', true), set_config('app.clinic_id', $1, true), set_config('app.user_id', $2, true)";
const AUDIT_INSERT = `insert into ${NAIVE_AUDIT_TABLE} (clinic_id, user_id, action, detail) values ($1, $2, $3, $4)`;

/** What one request asks the database, and how its rows become the answer. */
interface Plan {
  text: string;
  values: unknown[];
  action: 'R' | 'E' | 'C';
  /** The audit row's JSON, besides the request id and source address. */
  detail: Record<string, string | number | null>;
  answer(rows: Array<{ resource: string }>): { status: number; body: string; location?: string };
}

export class NaiveHttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEP = '\x1f';
const norm = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();

const bundle = (rows: Array<{ resource: string }>) =>
  `{"resourceType":"Bundle","type":"searchset","entry":[${rows.map((r) => `{"resource":${r.resource}}`).join(',')}]}`;

/** `date=ge2026-01-01&date=lt2027-01-01`: the lower and upper bound given, as instants. */
function dateBounds(q: URLSearchParams): { ge?: Date; lt?: Date } {
  const out: { ge?: Date; lt?: Date } = {};
  for (const v of q.getAll('date')) {
    const d = new Date(v.slice(2));
    if (Number.isNaN(d.getTime())) throw new NaiveHttpError(400, 'bad date');
    if (v.startsWith('ge')) out.ge = d;
    else if (v.startsWith('lt')) out.lt = d;
    else throw new NaiveHttpError(400, 'only ge and lt dates');
  }
  return out;
}

function readPatient(id: string): Plan {
  if (!UUID.test(id)) throw new NaiveHttpError(404, 'not found');
  return {
    text: 'select resource::text as resource from patient where id = $1 and not deleted',
    values: [id], action: 'R', detail: { interaction: 'read', type: 'Patient', id },
    answer: (rows) => (rows.length ? { status: 200, body: rows[0].resource } : { status: 404, body: '{"resourceType":"OperationOutcome"}' }),
  };
}

function searchFamily(q: URLSearchParams): Plan {
  const family = norm(q.get('family') ?? '');
  const count = Math.min(Number(q.get('_count') ?? 20) || 20, 100);
  return {
    // A prefix of the normalised family name, as a range on the search index (the "C" collation).
    text: `select p.resource::text as resource from patient p
            where not p.deleted and p.id in (select s.id from patient_search s where s.param = 'family' and s.value >= $1 and s.value < $2)
            order by p.last_updated desc, p.id limit $3`,
    values: [family, `${family}\u{10FFFF}`, count], action: 'E', detail: { interaction: 'search-type', type: 'Patient', query: `family=${family}` },
    answer: (rows) => ({ status: 200, body: bundle(rows) }),
  };
}

function searchAppointments(q: URLSearchParams): Plan {
  const patient = (q.get('patient') ?? '').replace(/^Patient\//, '');
  if (!UUID.test(patient)) throw new NaiveHttpError(400, 'patient must be an id');
  const { ge, lt } = dateBounds(q);
  return {
    text: `select resource::text as resource from appointment
            where not deleted and patient_id = $1 and sp_date_hi > $2 and sp_date_lo < $3
            order by last_updated desc, id limit 20`,
    values: [patient, ge ?? new Date(-8.64e15), lt ?? new Date(8.64e15)], action: 'E',
    detail: { interaction: 'search-type', type: 'Appointment', patient },
    answer: (rows) => ({ status: 200, body: bundle(rows) }),
  };
}

function searchAuditEvents(q: URLSearchParams): Plan {
  const patient = q.get('patient') ?? '';
  const since = dateBounds(q).ge ?? new Date(0);
  return {
    // Every event that names the patient (its own column, or the several-patient index), in its date range, newest first.
    text: `select row_to_json(a)::text as resource from audit_event a
            where (a.id, a.last_updated) in (select id, last_updated from audit_event where patient_id = $1 and last_updated >= $2
                                             union all select id, last_updated from audit_event_patient where patient_id = $1 and last_updated >= $2)
              and a.last_updated >= $2
            order by a.last_updated desc, a.id limit 20`,
    values: [patient.replace(/^Patient\//, ''), since], action: 'E',
    detail: { interaction: 'search-type', type: 'AuditEvent', patient },
    answer: (rows) => ({ status: 200, body: bundle(rows) }),
  };
}

interface PatientIn { resourceType?: string; identifier?: Array<{ system?: string; value?: string }>; name?: Array<{ family?: string; given?: string[] }>; gender?: string; birthDate?: string }

function createPatient(body: string): Plan {
  let p: PatientIn & Record<string, unknown>;
  try { p = JSON.parse(body) as typeof p; } catch { throw new NaiveHttpError(400, 'body is not JSON'); }
  if (p.resourceType !== 'Patient') throw new NaiveHttpError(400, 'not a Patient');
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  const text = JSON.stringify({ ...p, id, meta: { versionId: '1', lastUpdated: now } });
  const joined = (xs: string[]) => (xs.length ? SEP + xs.map(norm).join(SEP) + SEP : null);
  const families = (p.name ?? []).flatMap((n) => (n.family ? [n.family] : []));
  const givens = (p.name ?? []).flatMap((n) => n.given ?? []);
  const identifiers = (p.identifier ?? []).flatMap((i) => (i.value ? [`${i.system ?? ''}|${i.value}`, i.value] : []));
  const born = p.birthDate ? new Date(p.birthDate) : null;
  return {
    // The search columns the index trigger reads, for what a patient is looked up by.
    text: `insert into patient (id, clinic_id, version_id, last_updated, resource, sp_identifier, sp_name, sp_family, sp_given, sp_gender, sp_birthdate_lo, sp_birthdate_hi)
           values ($1, current_setting('app.clinic_id')::uuid, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    values: [id, now, text, identifiers, joined([...families, ...givens]), joined(families), joined(givens), p.gender ? [p.gender] : null,
      born, born ? new Date(born.getTime() + 86_400_000) : null],
    action: 'C', detail: { interaction: 'create', type: 'Patient', id },
    answer: () => ({ status: 201, body: text, location: `/fhir/Patient/${id}/_history/1` }),
  };
}

/** The scenario a request is, or a 404. */
function route(method: string, url: URL, body: string): Plan {
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] !== 'fhir') throw new NaiveHttpError(404, 'no such route');
  const [, type, id] = parts;
  if (method === 'GET' && type === 'Patient' && id && parts.length === 3) return readPatient(id);
  if (method === 'GET' && type === 'Patient' && parts.length === 2) return searchFamily(url.searchParams);
  if (method === 'POST' && type === 'Patient' && parts.length === 2) return createPatient(body);
  if (method === 'GET' && type === 'Appointment' && parts.length === 2) return searchAppointments(url.searchParams);
  if (method === 'GET' && type === 'AuditEvent' && parts.length === 2) return searchAuditEvents(url.searchParams);
  throw new NaiveHttpError(404, 'no such route');
}

/** The token's clinic and user, read from its payload (the floor measures the database path, not signature checks). */
function actorOf(authorization: string | undefined, clinicClaim: string): { clinicId: string; userId: string } {
  const payload = authorization?.startsWith('Bearer ') ? authorization.slice(7).split('.')[1] : undefined;
  if (!payload) throw new NaiveHttpError(401, 'no bearer token');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const clinicId = String(claims[clinicClaim]);
  const userId = String(claims.sub);
  if (!UUID.test(clinicId) || !UUID.test(userId)) throw new NaiveHttpError(401, 'token names no clinic or user');
  return { clinicId, userId };
}

/** One request's five round trips on one pooled connection. */
async function serve(pool: pg.Pool, who: { clinicId: string; userId: string }, plan: Plan, sourceIp: string) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(SET_CONTEXT, [who.clinicId, who.userId]);
    const { rows } = await client.query<{ resource: string }>(plan.text, plan.values);
    const detail = { requestId: crypto.randomUUID(), ...plan.detail, rows: rows.length, sourceIp, outcome: '0' };
    await client.query(AUDIT_INSERT, [who.clinicId, who.userId, plan.action, JSON.stringify(detail)]);
    await client.query('COMMIT');
    client.release();
    return plan.answer(rows);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(err as Error);
    throw err;
  }
}

/** The naive floor's request handler over a pool of the runtime login. */
export function naiveFloorHandler(pool: pg.Pool, clinicClaim = 'clinic'): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: string, location?: string) => {
        res.writeHead(status, { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(body), ...(location ? { location } : {}) });
        res.end(body);
      };
      (async () => {
        const who = actorOf(req.headers.authorization, clinicClaim);
        const plan = route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://naive'), Buffer.concat(chunks).toString('utf8'));
        const a = await serve(pool, who, plan, req.socket.remoteAddress ?? '');
        reply(a.status, a.body, a.location);
      })().catch((err: unknown) => {
        const status = err instanceof NaiveHttpError ? err.status : 500;
        reply(status, JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: (err as Error).message.slice(0, 200) }] }));
      });
    });
  };
}
