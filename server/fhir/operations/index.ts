import type { AccessContext } from '../../auth/access-context';
import type { FhirDeps, FhirResult } from '../interaction';
import type { FhirMethod, FhirRequest } from '../request';
import { accessReport } from './access-report';

/** A FHIR operation (`$name`): its own audited work, over HTTP only (not as a Bundle entry). */
export interface FhirOperation {
  method: FhirMethod;
  /** Express path below the FHIR base, with `:id`. */
  path: string;
  run(deps: FhirDeps, access: AccessContext, req: FhirRequest): Promise<FhirResult>;
}

/** The operations this folder serves, mounted before the REST routes (their paths are also in routes.ts OPERATION_ROUTES). */
export const FHIR_OPERATIONS: readonly FhirOperation[] = [
  { method: 'GET', path: '/Patient/:id/$access-report', run: accessReport },
];

