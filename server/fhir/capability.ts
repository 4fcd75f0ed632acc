import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceOperation, CapabilityStatementRestResourceSearchParam, Extension } from 'fhir/r4';
import type { Config } from '../config';
import { smartSecurity } from '../oauth/smart-configuration';
import { RESOURCE_DEFINITIONS } from './resources';
import { OPERATIONS } from './operations';
import type { ResourceDefinition, SearchParamDef } from './resources/types';
import { chainNames, hasSources } from './search/chain';
import { searchIncludes, searchRevIncludes } from './search/include';
import { MAX_BUNDLE_ENTRIES } from './transaction/parse';

const CODE_OF: Record<string, CapabilityStatementRestResource['interaction'] extends (infer I)[] | undefined ? I extends { code: infer C } ? C : never : never> = {
  read: 'read', vread: 'vread', 'history-instance': 'history-instance', 'history-type': 'history-type',
  search: 'search-type', create: 'create', update: 'update', patch: 'patch', delete: 'delete',
};

/** Extensions naming what a parameter can be chained with (R4's CapabilityStatement has no element for it). */
export const CHAIN_EXTENSION = 'https://fhir.clinic.example/StructureDefinition/capabilitystatement-search-chain';
/** Extensions naming the `_has` forms (`Source:reference`) a search of the type takes. */
export const HAS_EXTENSION = 'https://fhir.clinic.example/StructureDefinition/capabilitystatement-search-has';

const strings = (url: string, values: string[]): Extension[] => values.map((valueString) => ({ url, valueString }));

/** Conditional read: If-None-Match, or without it If-Modified-Since, answers 304 (handlers/instance.ts, one-trip-read.ts). */
const CONDITIONAL_READ = 'full-support' as const;

function searchParamEntry(p: SearchParamDef): CapabilityStatementRestResourceSearchParam {
  const chains = chainNames(p);
  return {
    name: p.name, type: p.type,
    ...(p.description || chains.length ? { documentation: [p.description, chains.length ? `Chains (one level): ${chains.join(', ')}` : ''].filter(Boolean).join('. ') } : {}),
    ...(chains.length ? { extension: strings(CHAIN_EXTENSION, chains) } : {}),
  };
}

const operationEntry = (o: (typeof OPERATIONS)[number]): CapabilityStatementRestResourceOperation => ({
  name: o.name, definition: o.definition, ...(o.documentation ? { documentation: o.documentation } : {}),
});

function resourceEntry(def: ResourceDefinition): CapabilityStatementRestResource {
  const has = (i: string) => def.interactions.includes(i as never);
  const reverse = has('search') ? hasSources(def) : [];
  const operations = OPERATIONS.filter((o) => o.types?.includes(def.type) && o.levels.some((l) => l !== 'system'));
  return {
    type: def.type,
    ...(reverse.length ? { extension: strings(HAS_EXTENSION, reverse) } : {}),
    ...(def.profile ? { supportedProfile: [def.profile] } : {}),
    interaction: def.interactions.map((i) => ({ code: CODE_OF[i] })),
    versioning: 'versioned',
    readHistory: has('vread'),
    // PUT to a new (UUID) id creates it.
    updateCreate: has('update') && has('create'),
    // Conditional interactions ride on create/update/delete plus search (see handlers/criteria.ts).
    conditionalCreate: has('create') && has('search'),
    conditionalUpdate: has('update') && has('search'),
    conditionalDelete: has('delete') && has('search') ? 'single' : 'not-supported',
    ...(has('read') ? { conditionalRead: CONDITIONAL_READ } : {}),
    ...(has('search') && searchIncludes(def).length ? { searchInclude: searchIncludes(def) } : {}),
    ...(has('search') && searchRevIncludes(def).length ? { searchRevInclude: searchRevIncludes(def) } : {}),
    searchParam: has('search') ? [
      { name: '_id', type: 'token', documentation: 'Logical id of the resource' },
      { name: '_lastUpdated', type: 'date', documentation: 'When the resource version last changed' },
      ...def.search.map(searchParamEntry),
      ...(reverse.length ? [{ name: '_has', type: 'special' as const, documentation: `Reverse chaining, one level: _has:${reverse[0]}:parameter=value (forms: ${reverse.join(', ')})` }] : []),
    ] : [],
    ...(operations.length ? { operation: operations.map(operationEntry) } : {}),
  };
}

const systemOperations = () => OPERATIONS.filter((o) => o.levels.includes('system'));

/** Says exactly what this server supports, generated from the resource definitions. */
export function capabilityStatement(cfg: Config): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-22',
    publisher: 'clinic-fhir-server',
    kind: 'instance',
    software: { name: 'clinic-fhir-server', version: '0.1.0' },
    implementation: { description: 'Multi-clinic FHIR R4 server with database-enforced tenant isolation', url: cfg.fhirBaseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [{
      mode: 'server',
      security: smartSecurity(cfg),
      resource: RESOURCE_DEFINITIONS.map(resourceEntry),
      interaction: [
        { code: 'history-system', documentation: 'GET [base]/_history with _since, _at, _count and next links: every type the caller may read the history of' },
        { code: 'batch', documentation: `POST [base] with a batch Bundle of at most ${MAX_BUNDLE_ENTRIES} entries; each entry runs and is audited on its own` },
        { code: 'transaction', documentation: `POST [base] with a transaction Bundle of at most ${MAX_BUNDLE_ENTRIES} entries: all or nothing in one database transaction, urn:uuid references resolved` },
      ],
      ...(systemOperations().length ? { operation: systemOperations().map(operationEntry) } : {}),
    }],
  };
}
