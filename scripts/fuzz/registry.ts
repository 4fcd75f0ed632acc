/**
 * Who owns every id the fuzz has seen: its clinic, and the patients whose compartment it is in.
 * The oracle asks it whether an id in a response belongs to someone other than the caller.
 */

export type ClinicName = 'A' | 'B';

export interface Owner {
  clinic: ClinicName;
  /** `Patient`, a compartment type, `Binary`, `Practitioner`, or `other` (users, clinics, audit ids). */
  kind: string;
  /** Patients whose compartment holds it (a Patient is in its own). Empty: in no compartment. */
  patients: Set<string>;
}

/** A resource the fuzz can target, by type and id. */
export interface Target { type: string; id: string; clinic: ClinicName; patient?: string }

type Json = Record<string, unknown>;

const PATIENT_REF = /^Patient\/([0-9a-f-]{36})$/;

/** Patients a resource names where its type places it in their compartment (as the definitions say). */
export function compartmentPatients(resource: Json): string[] {
  const refs: unknown[] = [];
  if (resource.resourceType === 'Patient') return typeof resource.id === 'string' ? [resource.id] : [];
  if (resource.resourceType === 'Appointment') {
    for (const p of (resource.participant as Json[] | undefined) ?? []) refs.push((p.actor as Json | undefined)?.reference);
  }
  if (resource.resourceType === 'MedicationRequest' || resource.resourceType === 'DocumentReference') {
    refs.push((resource.subject as Json | undefined)?.reference);
  }
  if (resource.resourceType === 'Binary') refs.push((resource.securityContext as Json | undefined)?.reference);
  return refs.flatMap((r) => (typeof r === 'string' && PATIENT_REF.test(r) ? [PATIENT_REF.exec(r)![1]] : []));
}

export class Registry {
  private readonly owners = new Map<string, Owner>();
  /** Targets by clinic and type, in the order they became known (so a seed replays the same picks). */
  private readonly targets = new Map<string, Target[]>();

  owner(id: string): Owner | undefined {
    return this.owners.get(id.toLowerCase());
  }

  /** Records an id; a known id only gains compartment patients (a resource never changes clinic). */
  add(id: string, clinic: ClinicName, kind: string, patients: readonly string[] = []): void {
    const key = id.toLowerCase();
    const known = this.owners.get(key);
    if (known) { for (const p of patients) known.patients.add(p); return; }
    this.owners.set(key, { clinic, kind, patients: new Set(patients) });
    if (kind !== 'other') {
      const list = this.targets.get(`${clinic}/${kind}`) ?? [];
      list.push({ type: kind, id: key, clinic, patient: patients[0] });
      this.targets.set(`${clinic}/${kind}`, list);
    }
  }

  /** Records a resource the caller of `clinic` was shown or created. */
  addResource(resource: Json, clinic: ClinicName): void {
    if (typeof resource.id !== 'string' || typeof resource.resourceType !== 'string') return;
    const kind = resource.resourceType === 'OperationOutcome' ? 'other' : resource.resourceType;
    this.add(resource.id, clinic, kind, compartmentPatients(resource));
  }

  targetsOf(clinic: ClinicName, type: string): readonly Target[] {
    return this.targets.get(`${clinic}/${type}`) ?? [];
  }

  /** Targets of a type in a patient's compartment. */
  targetsOfPatient(clinic: ClinicName, type: string, patient: string): Target[] {
    return this.targetsOf(clinic, type).filter((t) => this.owner(t.id)?.patients.has(patient));
  }
}
