// Reads the clinic's StructureDefinitions and the ValueSets they bind to from fhir-profiles/,
// refusing loudly anything it cannot honour rather than enforcing it half.

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { arrayAt, isObject, stringAt, type JsonObject } from './json';

export const PROFILE_DIR = resolve(__dirname, '..', '..', '..', 'fhir-profiles');

export interface StoredProfile {
  id: string;
  url: string;
  type: string;
  resource: JsonObject;
}

export interface Concept {
  system?: string;
  code: string;
}

export interface ProfileStore {
  profiles: StoredProfile[];
  /** Enumerated ValueSets by canonical URL. */
  valueSets: Map<string, Concept[]>;
}

function required(resource: JsonObject, name: string, file: string): string {
  const value = stringAt(resource, name);
  if (!value) throw new Error(`${file}: ${name} is required`);
  return value;
}

function readProfile(resource: JsonObject, file: string): StoredProfile {
  const [id, url, type] = [required(resource, 'id', file), required(resource, 'url', file), required(resource, 'type', file)];
  if (resource.derivation !== 'constraint' || resource.kind !== 'resource') {
    throw new Error(`${file}: only resource constraints (kind resource, derivation constraint) are supported`);
  }
  if (stringAt(resource, 'baseDefinition') !== `http://hl7.org/fhir/StructureDefinition/${type}`) {
    throw new Error(`${file}: baseDefinition must be the core ${type}`);
  }
  if (!isObject(resource.differential) || arrayAt(resource.differential, 'element').length === 0) {
    throw new Error(`${file}: a differential with elements is required`);
  }
  return { id, url, type, resource };
}

// Only enumerated codes: a filter or an imported ValueSet would need a terminology server.
function readValueSet(resource: JsonObject, file: string): Concept[] {
  const compose = isObject(resource.compose) ? resource.compose : {};
  const includes = arrayAt(compose, 'include');
  if (includes.length === 0 || compose.exclude !== undefined) throw new Error(`${file}: compose.include with enumerated concepts is required`);
  return includes.flatMap((include) => {
    if (!isObject(include) || include.filter !== undefined || include.valueSet !== undefined) {
      throw new Error(`${file}: only compose.include[].concept lists are supported`);
    }
    const system = stringAt(include, 'system');
    return arrayAt(include, 'concept').map((concept) => {
      const code = isObject(concept) ? stringAt(concept, 'code') : undefined;
      if (!code) throw new Error(`${file}: every concept needs a code`);
      return system ? { system, code } : { code };
    });
  });
}

export function loadProfileStore(dir: string = PROFILE_DIR): ProfileStore {
  const store: ProfileStore = { profiles: [], valueSets: new Map() };
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const file = join(dir, name);
    const resource: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isObject(resource)) throw new Error(`${file}: not a JSON object`);
    if (resource.resourceType === 'StructureDefinition') store.profiles.push(readProfile(resource, file));
    else if (resource.resourceType === 'ValueSet') store.valueSets.set(required(resource, 'url', file), readValueSet(resource, file));
    else throw new Error(`${file}: expected a StructureDefinition or a ValueSet`);
  }
  return store;
}
