// What the JSON schema cannot say about one element: choice variants, required primitives and
// choices, and invariants. Runs inside ajv (see r4-schema.ts) so it reaches every nested element.

import type { ChoiceGroup } from './choice-groups';
import coreRequired from './core-required.json';
import { INVARIANTS } from './invariants';
import type { IssueCode } from './issues';
import { hasChoice, hasElement, type JsonObject } from './json';

export interface RuleViolation {
  code: IssueCode;
  message: string;
  /** Child property the violation is about, when narrower than the element itself. */
  property?: string;
}

const REQUIRED_PRIMITIVES: Readonly<Record<string, readonly string[]>> = coreRequired.primitives;
const REQUIRED_CHOICES: Readonly<Record<string, readonly string[]>> = coreRequired.choices;

export type ElementRules = (definition: string, node: JsonObject) => RuleViolation[];

/** Definition names that have at least one rule, so only those get the ajv hook. */
export function definitionsWithRules(choiceGroups: ReadonlyMap<string, ChoiceGroup[]>): Set<string> {
  return new Set([...choiceGroups.keys(), ...Object.keys(REQUIRED_PRIMITIVES), ...Object.keys(REQUIRED_CHOICES), ...Object.keys(INVARIANTS)]);
}

export function makeElementRules(choiceGroups: ReadonlyMap<string, ChoiceGroup[]>): ElementRules {
  return (definition, node) => {
    const found: RuleViolation[] = [];
    for (const group of choiceGroups.get(definition) ?? []) {
      const given = group.variants.filter((variant) => hasElement(node, variant));
      if (given.length > 1) {
        found.push({ code: 'structure', property: group.prefix, message: `${group.prefix}[x] takes one type only, got ${given.join(' and ')}` });
      }
    }
    for (const prefix of REQUIRED_CHOICES[definition] ?? []) {
      const variants = choiceGroups.get(definition)?.find((g) => g.prefix === prefix)?.variants ?? [];
      if (!variants.some((variant) => hasElement(node, variant)) && !hasChoice(node, prefix)) {
        found.push({ code: 'required', property: prefix, message: `${prefix}[x] is required (one of ${variants.join(', ')})` });
      }
    }
    for (const name of REQUIRED_PRIMITIVES[definition] ?? []) {
      if (!hasElement(node, name)) found.push({ code: 'required', property: name, message: 'required element is missing (min 1)' });
    }
    for (const invariant of INVARIANTS[definition] ?? []) {
      if (!invariant.holds(node)) {
        found.push({ code: 'invariant', property: invariant.at, message: `${invariant.human} (${invariant.key})` });
      }
    }
    return found;
  };
}
