import type { ResourceDefinition, SearchParamDef } from '../resources/types';

// The parsed form of a search's criteria: parse.ts and chain.ts build it, compile.ts reads it.

export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb';
export type Modifier = 'exact' | 'contains' | 'missing' | 'not' | 'type';

/** One `param[:modifier]=v1,v2` of a query: values are OR'ed; criteria are AND'ed. */
export interface Criterion {
  param: SearchParamDef | { name: '_id' | '_lastUpdated' | '_has'; type: 'token' | 'date' };
  modifier?: Modifier;
  /** For `reference:Type`. */
  typeModifier?: string;
  values: string[];
  dates?: Array<{ prefix: DatePrefix; lo: Date; hi: Date }>;
  /** A chained (`patient.family`) or reverse-chained (`_has:...`) criterion: decided on another type's rows. */
  link?: Link;
}

/** A criterion decided on the rows of another type that a reference parameter joins to. */
export type Link =
  /** Rows whose reference `param` names a row of one of `targets` matching that target's criterion. */
  | { kind: 'chain'; targets: Array<{ def: ResourceDefinition; criterion: Criterion }> }
  /** Rows named through `ref` by some row of `source` matching `criterion`. */
  | { kind: 'has'; source: ResourceDefinition; ref: SearchParamDef; criterion: Criterion };
