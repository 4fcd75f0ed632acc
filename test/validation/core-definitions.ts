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

type SchemaDefinitions = Record<string, { properties?: Record<string, unknown>; required?: string[] }>;

/**
 * The JSON schema's definition for an element path: Appointment.participant -> Appointment_Participant.
 * Backbone names clash (CodeSystem.property, CodeSystem.concept.property), so the schema numbers them
 * (CodeSystem_Property1): the right one is the candidate that has every child element of the path.
 */
export function schemaDefinitionName(path: string, sd: CoreDefinition, definitions: SchemaDefinitions): string | undefined {
  const parts = path.split('.');
  const last = parts[parts.length - 1];
  const base = parts.length === 1 ? parts[0] : `${parts[0]}_${last[0].toUpperCase()}${last.slice(1)}`;
  const children = (sd.snapshot?.element ?? [])
    .filter((e) => e.path.startsWith(`${path}.`) && !e.path.slice(path.length + 1).includes('.'))
    .map((e) => e.path.slice(path.length + 1).replace('[x]', ''));
  for (let n = 0; definitions[n === 0 ? base : `${base}${n}`]; n++) {
    const name = n === 0 ? base : `${base}${n}`;
    const props = Object.keys(definitions[name].properties ?? {});
    if (children.every((child) => props.some((p) => p === child || p.startsWith(child)))) return name;
  }
  return undefined;
}

export interface RequiredTables {
  primitives: Record<string, string[]>;
  choices: Record<string, string[]>;
}

/**
 * Elements with min >= 1 that the JSON schema cannot require: primitives (their value may sit in `_x`)
 * and choices (spread over several properties). Complex required elements are already in the schema.
 */
export function deriveRequiredTables(schemaDefinitions: SchemaDefinitions): RequiredTables {
  const tables: RequiredTables = { primitives: {}, choices: {} };
  for (const sd of coreDefinitions().values()) {
    for (const element of sd.snapshot?.element ?? []) {
      const parts = element.path.split('.');
      if ((element.min ?? 0) < 1 || parts.length < 2 || element.base?.path.split('.')[0] !== sd.type) continue;
      const name = parts.pop() ?? '';
      const defName = schemaDefinitionName(parts.join('.'), sd, schemaDefinitions);
      const def = defName ? schemaDefinitions[defName] : undefined;
      if (!defName || !def) continue;
      if (name.endsWith('[x]')) (tables.choices[defName] ??= []).push(name.slice(0, -3));
      else if (def.properties && name in def.properties && !(def.required ?? []).includes(name)) (tables.primitives[defName] ??= []).push(name);
    }
  }
  return tables;
}
