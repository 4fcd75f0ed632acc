// Reads the official R4 StructureDefinitions shipped in hl7.fhir.r4.examples (a dev dependency),
// so tests can check the server's hand-kept and generated tables against the real spec.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const EXAMPLES_DIR = dirname(require.resolve('hl7.fhir.r4.examples/package.json'));

export interface CoreElement {
  path: string;
  min?: number;
  max?: string;
  base?: { path: string };
  type?: Array<{ code: string }>;
  constraint?: Array<{ key: string; severity: string; human: string; expression?: string; source?: string }>;
}

export interface CoreDefinition {
  type: string;
  kind: string;
  derivation?: string;
  snapshot?: { element: CoreElement[] };
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Core (specialization) StructureDefinitions for resources and complex data types, by type. */
export function coreDefinitions(): Map<string, CoreDefinition> {
  const result = new Map<string, CoreDefinition>();
  for (const file of readdirSync(EXAMPLES_DIR)) {
    if (!file.startsWith('StructureDefinition-')) continue;
    const sd = readJson(join(EXAMPLES_DIR, file)) as CoreDefinition;
    if (sd.derivation !== 'specialization' || !sd.snapshot) continue;
    if (sd.kind === 'resource' || sd.kind === 'complex-type') result.set(sd.type, sd);
  }
  return result;
}

/** The JSON schema's definition name for an element's parent: Appointment.participant -> Appointment_Participant. */
export function schemaDefinitionName(parentPath: string): string {
  const parts = parentPath.split('.');
  if (parts.length === 1) return parts[0];
  const last = parts[parts.length - 1];
  return `${parts[0]}_${last[0].toUpperCase()}${last.slice(1)}`;
}

export interface RequiredTables {
  primitives: Record<string, string[]>;
  choices: Record<string, string[]>;
}

/**
 * Elements with min >= 1 that the JSON schema cannot require: primitives (their value may sit in `_x`)
 * and choices (spread over several properties). Complex required elements are already in the schema.
 */
export function deriveRequiredTables(schemaDefinitions: Record<string, { properties?: object; required?: string[] }>): RequiredTables {
  const tables: RequiredTables = { primitives: {}, choices: {} };
  for (const sd of coreDefinitions().values()) {
    for (const element of sd.snapshot?.element ?? []) {
      const parts = element.path.split('.');
      if ((element.min ?? 0) < 1 || parts.length < 2 || element.base?.path.split('.')[0] !== sd.type) continue;
      const name = parts.pop() ?? '';
      const defName = schemaDefinitionName(parts.join('.'));
      const def = schemaDefinitions[defName];
      if (!def) continue;
      if (name.endsWith('[x]')) (tables.choices[defName] ??= []).push(name.slice(0, -3));
      else if (def.properties && name in def.properties && !(def.required ?? []).includes(name)) (tables.primitives[defName] ??= []).push(name);
    }
  }
  return tables;
}
