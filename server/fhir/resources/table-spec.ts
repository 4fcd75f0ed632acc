import { searchColumnName } from '../../../db/resource-table';
import type { ResourceTableSpec } from '../../../db/resource-recipe';
import { definitionOf } from './index';
import type { ResourceDefinition } from './types';

/**
 * The spec db/resource-recipe.ts builds a type's tables from, as the definition reads today. A
 * migration keeps its own frozen copy (a later change to the definition is a new migration);
 * test/db/resource-recipe.test.ts holds the two equal for the newest type.
 * Not for AuditEvent: partitioned and append-only, its tables are built by hand (003, 020, 022).
 */
export function tableSpecOf(def: ResourceDefinition): ResourceTableSpec {
  const c = def.compartment;
  let compartment: ResourceTableSpec['compartment'];
  if (c === 'self') compartment = 'self';
  else if ('paths' in c) compartment = 'patient_id';
  else {
    const patients = definitionOf(c.referencedFrom.type);
    if (!patients) throw new Error(`${def.type}: ${c.referencedFrom.type} is not served`);
    compartment = { referencedFrom: { table: patients.table, column: searchColumnName(c.referencedFrom.param), type: def.type } };
  }
  return { table: def.table, compartment, search: def.search.filter((p) => !p.name.startsWith('_')).map((p) => ({ name: p.name, type: p.type })) };
}
