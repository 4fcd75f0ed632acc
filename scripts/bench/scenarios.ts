import { FAMILIES, patientBody, rng } from '../lib/synthetic';
import {
  appointmentSearchFloor, auditSearchFloor, createPatientFloor, type FloorActor, type FloorPlan, readPatientFloor, searchFamilyFloor,
} from './floor';
import type { HttpScenario } from './http-load';

/** One clinic as the benchmark drives it: its tokens, and patient ids to rotate over. */
export interface BenchClinic {
  doctorToken: string;
  officerToken: string;
  patientIds: readonly string[];
  /** Set when the database is reachable (embedded mode): who the floor acts as. */
  doctor?: FloorActor;
  officer?: FloorActor;
  /** The compliance officer's console session cookie (embedded mode): the console scenario needs it. */
  officerCookie?: () => string;
}

export interface Scenario {
  key: string;
  title: string;
  http: HttpScenario;
  floor?: FloorPlan;
  /** The naive floor serves no such page (the console): it is not driven there. */
  noNaive?: true;
}

export const SCENARIO_KEYS = ['read', 'search', 'appointments', 'create', 'audit', 'console'] as const;
export type ScenarioKey = (typeof SCENARIO_KEYS)[number];

const DAY = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The five scenarios of the issue. Each request picks a clinic, and an id (or name) in it, at random,
 * so the server's caches see a realistic spread; the floor picks the same way.
 */
export function buildScenarios(clinics: readonly BenchClinic[], keys: readonly ScenarioKey[], now = Date.now()): Scenario[] {
  const r = rng(7);
  let current = clinics[0];
  // Each request draws a clinic, then its parameters come from that clinic.
  const nextClinic = () => { current = clinics[Math.floor(r() * clinics.length)]; return current; };
  const patient = () => current.patientIds[Math.floor(r() * current.patientIds.length)];
  const family = () => FAMILIES[Math.floor(r() * FAMILIES.length)];
  const doctor = () => nextClinic().doctor as FloorActor;
  const officer = () => nextClinic().officer as FloorActor;
  const hasFloor = clinics.every((c) => c.doctor && c.officer);
  const range = { from: day(now - 180 * DAY), to: day(now + 180 * DAY) };
  const since = day(now - 7 * DAY);
  let serial = 900_000_000;

  const as = (token: 'doctor' | 'officer', method: 'GET' | 'POST', path: string, body?: string) => ({
    method, path, token: token === 'doctor' ? current.doctorToken : current.officerToken, ...(body ? { body } : {}),
  });

  const all: Record<ScenarioKey, Scenario> = {
    read: {
      key: 'read', title: 'read Patient by id',
      http: { next: () => (nextClinic(), as('doctor', 'GET', `/fhir/Patient/${patient()}`)) },
      ...(hasFloor ? { floor: readPatientFloor(doctor, patient) } : {}),
    },
    search: {
      key: 'search', title: 'search Patient by family',
      http: { next: () => (nextClinic(), as('doctor', 'GET', `/fhir/Patient?family=${family()}&_count=20`)) },
      ...(hasFloor ? { floor: searchFamilyFloor(doctor, family) } : {}),
    },
    appointments: {
      key: 'appointments', title: 'search Appointment by patient+date',
      http: { next: () => (nextClinic(), as('doctor', 'GET', `/fhir/Appointment?patient=${patient()}&date=ge${range.from}&date=lt${range.to}`)) },
      ...(hasFloor ? { floor: appointmentSearchFloor(doctor, patient, range) } : {}),
    },
    create: {
      key: 'create', title: 'create Patient',
      http: { next: () => (nextClinic(), as('doctor', 'POST', '/fhir/Patient', JSON.stringify(patientBody(r, ++serial)))) },
      ...(hasFloor ? { floor: createPatientFloor(doctor, () => patientBody(r, ++serial)) } : {}),
    },
    audit: {
      key: 'audit', title: 'search AuditEvent by patient+date',
      http: { next: () => (nextClinic(), as('officer', 'GET', `/fhir/AuditEvent?patient=Patient/${patient()}&date=ge${since}`)) },
      ...(hasFloor ? { floor: auditSearchFloor(officer, patient, since) } : {}),
    },
    console: {
      key: 'console', title: "console: a patient's access log, first page",
      http: { next: () => (nextClinic(), { ...as('officer', 'GET', `/console/access?patient=${patient()}`), cookie: current.officerCookie?.() }) },
      noNaive: true,
    },
  };
  // The console scenario needs a session cookie, which only embedded mode can seal.
  return keys.filter((k) => k !== 'console' || clinics.every((c) => c.officerCookie)).map((k) => all[k]);
}
