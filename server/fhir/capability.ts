import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import type { Config } from '../config';
import { RESOURCE_DEFINITIONS } from './resources';
import type { ResourceDefinition } from './resources/types';

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
    updateCreate: false,
    conditionalCreate: false,
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    ...(has('read') ? { conditionalRead: 'not-supported' as const } : {}),
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
      security: {
        cors: false,
        service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
        description: 'Bearer JWT (ES256/RS256) carrying SMART v1/v2 scopes, intersected with the user\'s role at the clinic; clinic isolation by PostgreSQL Row Level Security.',
      },
      resource: RESOURCE_DEFINITIONS.map(resourceEntry),
    }],
  };
}
