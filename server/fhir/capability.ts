import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import type { Config } from '../config';
import { smartSecurity } from '../oauth/smart-configuration';
import { RESOURCE_DEFINITIONS } from './resources';
import type { ResourceDefinition } from './resources/types';
import { searchIncludes, searchRevIncludes } from './search/include';
import { MAX_BUNDLE_ENTRIES } from './transaction/parse';

const CODE_OF: Record<string, CapabilityStatementRestResource['interaction'] extends (infer I)[] | undefined ? I extends { code: infer C } ? C : never : never> = {
  read: 'read', vread: 'vread', 'history-instance': 'history-instance', 'history-type': 'history-type',
  search: 'search-type', create: 'create', update: 'update', patch: 'patch', delete: 'delete',
};

function resourceEntry(def: ResourceDefinition): CapabilityStatementRestResource {
  const has = (i: string) => def.interactions.includes(i as never);
  return {
    type: def.type,
    ...(def.profile ? { supportedProfile: [def.profile] } : {}),
    interaction: def.interactions.filter((i) => i !== 'patch').map((i) => ({ code: CODE_OF[i] })),
    versioning: 'versioned',
    readHistory: has('vread'),
    // PUT to a new (UUID) id creates it.
    updateCreate: has('update') && has('create'),
    // Conditional interactions ride on create/update/delete plus search (see handlers/criteria.ts).
    conditionalCreate: has('create') && has('search'),
    conditionalUpdate: has('update') && has('search'),
    conditionalDelete: has('delete') && has('search') ? 'single' : 'not-supported',
    ...(has('read') ? { conditionalRead: 'full-support' as const } : {}),
    ...(has('search') && searchIncludes(def).length ? { searchInclude: searchIncludes(def) } : {}),
    ...(has('search') && searchRevIncludes(def).length ? { searchRevInclude: searchRevIncludes(def) } : {}),
    ...(has('create') ? { operation: [{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }] } : {}),
    searchParam: [
      { name: '_id', type: 'token', documentation: 'Logical id of the resource' },
      { name: '_lastUpdated', type: 'date', documentation: 'When the resource version last changed' },
      ...def.search.map((p) => ({ name: p.name, type: p.type, ...(p.description ? { documentation: p.description } : {}) })),
    ],
  };
}

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
    rest: [{
      mode: 'server',
      security: smartSecurity(cfg),
      resource: RESOURCE_DEFINITIONS.map(resourceEntry),
      interaction: [
        { code: 'history-system', documentation: 'GET [base]/_history with _since, _at, _count and next links: every type the caller may read the history of' },
        { code: 'batch', documentation: `POST [base] with a batch Bundle of at most ${MAX_BUNDLE_ENTRIES} entries; each entry runs and is audited on its own` },
        { code: 'transaction', documentation: `POST [base] with a transaction Bundle of at most ${MAX_BUNDLE_ENTRIES} entries: all or nothing in one database transaction, urn:uuid references resolved` },
      ],
    }],
  };
}
