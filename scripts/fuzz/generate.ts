import { FHIR_JSON, type FuzzRequest } from './client';
import type { Rng } from './prng';
import type { ClinicName } from './registry';
import { searchQuery } from './search-params';
import { appointmentBody, type Caller, documentBody, IDENTIFIER_SYSTEM, medicationRequestBody, patientBody, practitionerBody, uploadBinary, type World } from './world';

/**
 * The random stream: each call picks a caller and an interaction over every route the server has,
 * aimed at ids of the caller's clinic, of the other clinic and of other patients.
 */

export const TYPES = ['Patient', 'Appointment', 'MedicationRequest', 'DocumentReference', 'Practitioner', 'AuditEvent'] as const;
const WRITABLE = ['Patient', 'Appointment', 'MedicationRequest', 'DocumentReference', 'Practitioner'] as const;

type Json = Record<string, unknown>;

export interface Generated { caller: Caller; request: FuzzRequest }

interface SavedLink { path: string; caller: Caller }

const MAX_LINKS = 300;
const other = (c: ClinicName): ClinicName => (c === 'A' ? 'B' : 'A');
const json = { 'Content-Type': FHIR_JSON };

export class RequestGenerator {
  private readonly links: SavedLink[] = [];
  private counter = 0;

  constructor(private readonly rng: Rng, private readonly world: World) {}

  /** Keeps a paging link a response gave, to follow later (by its caller or by someone else). */
  saveLink(path: string, caller: Caller): void {
    this.links.push({ path, caller });
    if (this.links.length > MAX_LINKS) this.links.shift();
  }

  /** An id of `type`: the caller's own, another patient's, the other clinic's, or nobody's. */
  idOf(caller: Caller, type: string, ownBias = 0.55): string {
    const { rng } = this;
    const reg = this.world.registry;
    if (rng.chance(0.04)) return rng.uuid();
    let pool: readonly { id: string }[];
    if (rng.chance(ownBias)) {
      pool = caller.patient && type !== 'Practitioner' && type !== 'User'
        ? (type === 'Patient' ? [{ id: caller.patient }] : reg.targetsOfPatient(caller.clinic, type, caller.patient))
        : reg.targetsOf(caller.clinic, type);
    } else {
      pool = reg.targetsOf(rng.chance(caller.patient ? 0.5 : 0.85) ? other(caller.clinic) : caller.clinic, type);
    }
    return pool.length ? rng.pick(pool).id : rng.uuid();
  }

  /** The patient a target is in the compartment of, as far as the fuzz knows. */
  private patientOf(id: string): string | undefined {
    const o = this.world.registry.owner(id);
    return o ? [...o.patients][0] : undefined;
  }

  /** A body for `type` about `patient` (its own id for an update of `id`). */
  body(caller: Caller, type: string, patient: string, id?: string): Json {
    const n = this.counter++;
    const prac = this.rng.chance(0.8) ? this.idOf(caller, 'Practitioner', 0.8) : undefined;
    let b: Json;
    if (type === 'Patient') b = patientBody(n % 7, prac ? { generalPractitioner: [{ reference: `Practitioner/${prac}` }] } : {});
    else if (type === 'Appointment') b = appointmentBody(patient, prac, n);
    else if (type === 'MedicationRequest') b = medicationRequestBody(patient, prac, n);
    else if (type === 'DocumentReference') {
      const binaries = this.world.registry.targetsOf(this.rng.chance(0.85) ? caller.clinic : other(caller.clinic), 'Binary');
      const own = binaries.filter((t) => this.world.registry.owner(t.id)?.patients.has(patient));
      const binary = this.rng.chance(0.5) ? undefined : (own.length && this.rng.chance(0.8) ? this.rng.pick(own) : binaries.length ? this.rng.pick(binaries) : undefined)?.id;
      b = documentBody(patient, { binary }, n);
    } else b = practitionerBody(n % 5);
    return id ? { ...b, id } : b;
  }

  next(): Generated {
    const { rng } = this;
    let caller = rng.pick(this.world.callers);
    const kind = rng.weighted<string>([
      [14, 'read'], [5, 'vread'], [5, 'history-instance'], [3, 'history-type'], [22, 'search'], [4, 'search-post'],
      [8, 'next-link'], [5, 'create'], [3, 'conditional-create'], [4, 'update'], [2, 'conditional-update'], [3, 'patch'],
      [2, 'delete'], [1, 'conditional-delete'], [4, 'batch'], [3, 'transaction'], [5, 'binary-read'], [1, 'binary-upload'],
      [6, 'audit-search'], [1, 'audit-read'],
    ]);
    // The audit trail opens to few roles: ask mostly as them, so its answers are judged often.
    const auditors = this.world.callers.filter((c) => /compliance-officer|clinic-admin/.test(c.name) && !c.forged);
    if (kind.startsWith('audit') && rng.chance(0.7)) caller = rng.pick(auditors);
    if (kind === 'next-link' && this.links.length) {
      const link = rng.pick(this.links);
      // Mostly by whoever got it; sometimes by someone else, who must not be shown the first caller's data.
      if (rng.chance(0.65)) caller = link.caller;
      return { caller, request: { method: 'GET', path: link.path, headers: {}, label: caller === link.caller ? kind : 'next-link-other-caller' } };
    }
    return { caller, request: { ...this.make(caller, kind), label: kind } };
  }

  private make(caller: Caller, kind: string): Omit<FuzzRequest, 'label'> {
    const { rng } = this;
    const type = rng.pick(kind === 'read' || kind.startsWith('history') || kind.startsWith('search') ? TYPES : WRITABLE);
    const id = () => this.idOf(caller, type);
    switch (kind) {
      case 'read': return { method: 'GET', path: `/fhir/${type}/${id()}`, headers: {} };
      case 'vread': return { method: 'GET', path: `/fhir/${type}/${id()}/_history/${1 + rng.int(3)}`, headers: {} };
      case 'history-instance': return { method: 'GET', path: `/fhir/${type}/${id()}/_history${this.historyQuery()}`, headers: {} };
      case 'history-type': return { method: 'GET', path: `/fhir/${type}/_history${this.historyQuery()}`, headers: {} };
      case 'search': return { method: 'GET', path: `/fhir/${type}?${searchQuery(rng, type, (t) => this.idOf(caller, t, 0.4))}`, headers: {} };
      case 'search-post':
        return { method: 'POST', path: `/fhir/${type}/_search`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: searchQuery(rng, type, (t) => this.idOf(caller, t, 0.4)) };
      case 'next-link': return { method: 'GET', path: '/fhir/Patient?_count=1', headers: {} };
      case 'create': {
        const patient = this.idOf(caller, 'Patient', 0.8);
        return { method: 'POST', path: `/fhir/${type}`, headers: json, body: JSON.stringify(this.body(caller, type, patient)) };
      }
      case 'conditional-create': {
        const patient = this.idOf(caller, 'Patient', 0.8);
        const criteria = rng.chance(0.5) ? `identifier=${IDENTIFIER_SYSTEM}|p-${rng.int(6)}` : `_id=${this.idOf(caller, type, 0.5)}`;
        return { method: 'POST', path: `/fhir/${type}`, headers: { ...json, 'If-None-Exist': criteria }, body: JSON.stringify(this.body(caller, type, patient)) };
      }
      case 'update': {
        // A PUT to another clinic's id creates the caller's own resource at that id (ids are unique per
        // clinic), which a registry of one owner per id cannot follow: test/fhir/sync.test.ts covers it.
        const target = this.idOf(caller, type, 1);
        const headers: Record<string, string> = rng.chance(0.3) ? { ...json, 'If-Match': `W/"${1 + rng.int(3)}"` } : json;
        return { method: 'PUT', path: `/fhir/${type}/${target}`, headers, body: JSON.stringify(this.body(caller, type, this.patientOf(target) ?? this.idOf(caller, 'Patient', 0.8), target)) };
      }
      case 'conditional-update': {
        const criteria = rng.chance(0.6) ? `identifier=${encodeURIComponent(`${IDENTIFIER_SYSTEM}|${type === 'Patient' ? 'p' : 'x'}-${rng.int(6)}`)}` : `_id=${this.idOf(caller, type, 0.5)}`;
        return { method: 'PUT', path: `/fhir/${type}?${criteria}`, headers: json, body: JSON.stringify(this.body(caller, type, this.idOf(caller, 'Patient', 0.8))) };
      }
      case 'patch': return { method: 'PATCH', path: `/fhir/${type}/${this.idOf(caller, type, 0.75)}`, headers: { 'Content-Type': 'application/json-patch+json' }, body: JSON.stringify(this.patchOps(caller, type)) };
      case 'delete': return { method: 'DELETE', path: `/fhir/${type}/${this.idOf(caller, type, 0.7)}`, headers: {} };
      case 'conditional-delete':
        return { method: 'DELETE', path: `/fhir/${type}?${rng.chance(0.5) ? `identifier=${encodeURIComponent(`${IDENTIFIER_SYSTEM}|zz-${rng.int(3)}`)}` : `_id=${this.idOf(caller, type, 0.5)}`}`, headers: {} };
      case 'batch': case 'transaction': return { method: 'POST', path: '/fhir', headers: json, body: JSON.stringify(this.bundle(caller, kind)) };
      case 'binary-read': return { method: 'GET', path: `/fhir/Binary/${this.idOf(caller, 'Binary')}`, headers: {} };
      case 'binary-upload': { const u = uploadBinary(this.idOf(caller, 'Patient', 0.7)); return { method: u.method, path: u.path, headers: u.headers, body: u.body }; }
      case 'audit-search': return { method: 'GET', path: `/fhir/AuditEvent?${this.auditQuery(caller)}`, headers: {} };
      default: return { method: 'GET', path: `/fhir/AuditEvent/${this.idOf(caller, 'AuditEvent')}`, headers: {} };
    }
  }

  private historyQuery(): string {
    const parts: string[] = [];
    if (this.rng.chance(0.5)) parts.push(`_count=${this.rng.pick([1, 2, 5])}`);
    if (this.rng.chance(0.2)) parts.push(`_since=${this.rng.pick(['2020-01-01T00:00:00Z', new Date(Date.now() - 60_000).toISOString()])}`);
    return parts.length ? `?${parts.join('&')}` : '';
  }

  private patchOps(caller: Caller, type: string): Json[] {
    const { rng } = this;
    const foreign = this.idOf(caller, 'Patient', 0.3);
    return rng.weighted<Json[]>([
      [3, type === 'Patient' || type === 'Practitioner' ? [{ op: 'replace', path: '/active', value: rng.chance(0.5) }] : [{ op: 'replace', path: '/status', value: type === 'Appointment' ? 'cancelled' : type === 'MedicationRequest' ? 'on-hold' : 'superseded' }]],
      [2, type === 'Appointment' ? [{ op: 'replace', path: '/participant/0/actor/reference', value: `Patient/${foreign}` }] : [{ op: 'replace', path: '/subject', value: { reference: `Patient/${foreign}` } }]],
      [1, [{ op: 'replace', path: '/id', value: this.idOf(caller, type, 0.2) }]],
      [1, [{ op: 'add', path: '/meta/security', value: [{ system: 'urn:fuzz', code: 'x' }] }]],
    ]);
  }

  private auditQuery(caller: Caller): string {
    const { rng } = this;
    const parts: string[] = [];
    const n = 1 + rng.int(2);
    for (let i = 0; i < n; i++) {
      parts.push(rng.weighted<string>([
        [3, `patient=${this.idOf(caller, 'Patient', 0.5)}`], [3, `agent=${this.idOf(caller, 'User', 0.5)}`],
        [2, `entity=${rng.pick(['Patient', 'Appointment', 'DocumentReference', 'Binary'])}/${this.idOf(caller, rng.pick(['Patient', 'Appointment', 'DocumentReference', 'Binary']), 0.5)}`],
        [2, `outcome=${rng.pick(['0', '4', '8'])}`], [2, `subtype=${rng.pick(['read', 'search', 'create', 'update', 'delete'])}`],
        [1, `date=ge${new Date(Date.now() - 3_600_000).toISOString().slice(0, 19)}Z`], [1, `action=${rng.pick(['R', 'C', 'U', 'D', 'E'])}`],
        [1, `_include=AuditEvent:patient`], [1, `_include=AuditEvent:entity`], [1, `entity-type=1`], [1, `agent-role=doctor`],
      ]));
    }
    if (rng.chance(0.5)) parts.push(`_count=${rng.pick([1, 3, 10])}`);
    if (rng.chance(0.2)) parts.push(`_sort=${rng.pick(['-date', 'date', '_lastUpdated'])}`);
    return parts.join('&');
  }

  /** A batch or transaction mixing reads, searches and writes on ids of every owner. */
  private bundle(caller: Caller, kind: 'batch' | 'transaction'): Json {
    const { rng } = this;
    const entries: Json[] = [];
    const count = 1 + rng.int(4);
    if (kind === 'transaction' && rng.chance(0.4)) {
      // A new patient and a record about it in one go, joined by a urn:uuid.
      const urn = `urn:uuid:${rng.uuid()}`;
      entries.push({ fullUrl: urn, resource: this.body(caller, 'Patient', ''), request: { method: 'POST', url: 'Patient' } });
      const rec = this.body(caller, 'MedicationRequest', 'x');
      entries.push({ resource: { ...rec, subject: { reference: urn } }, request: { method: 'POST', url: 'MedicationRequest' } });
    }
    for (let i = 0; i < count; i++) {
      const type = rng.pick(kind === 'batch' ? TYPES : WRITABLE);
      const id = this.idOf(caller, type, 0.6);
      entries.push(rng.weighted<Json>([
        [4, { request: { method: 'GET', url: `${type}/${id}` } }],
        [3, { request: { method: 'GET', url: `${type}?${searchQuery(rng, type, (t) => this.idOf(caller, t, 0.4))}` } }],
        [1, { request: { method: 'GET', url: `${type}/${id}/_history` } }],
        [3, { resource: this.body(caller, type, this.idOf(caller, 'Patient', 0.8)), request: { method: 'POST', url: type } }],
        [1, { resource: this.body(caller, type, this.idOf(caller, 'Patient', 0.8)), request: { method: 'POST', url: type, ifNoneExist: `identifier=${IDENTIFIER_SYSTEM}|p-${rng.int(6)}` } }],
        [2, { resource: this.body(caller, type, this.patientOf(id) ?? this.idOf(caller, 'Patient', 0.8), id), request: { method: 'PUT', url: `${type}/${id}` } }],
        [1, { request: { method: 'DELETE', url: `${type}/${id}` } }],
      ]));
    }
    return { resourceType: 'Bundle', type: kind, entry: entries };
  }
}
