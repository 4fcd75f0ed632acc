import { randomUUID } from 'node:crypto';
import type { OperationOutcomeIssue } from 'fhir/r4';
import type { AccessContext } from '../../auth/access-context';
import type { FhirInteraction } from '../../auth/authorize';
import { badRequest, OperationOutcomeError } from '../../http/errors';
import { audited } from '../../pipeline/audited';
import { parseJsonBody } from '../body';
import { callerFacts, compartmentFor, type FhirDeps, type FhirResult, type InteractionContext } from '../interaction';
import { assertReferencesResolve } from '../references';
import { type FhirResource, Repository } from '../repository';
import { type FhirRequest, queryValue } from '../request';
import type { ResourceDefinition } from '../resources/types';
import { type ValidatedType, validateResource } from '../validation';
import { ourId } from './instance';

type Mode = 'create' | 'update' | 'delete';
const MODES: readonly Mode[] = ['create', 'update', 'delete'];

interface Asked { mode: Mode; resource?: Record<string, unknown> }

/** The mode (query, or Parameters.mode) and the resource (the body, or Parameters.resource). */
function readAsked(req: FhirRequest, def: ResourceDefinition, id: string | undefined): Asked {
  const fromQuery = queryValue(req, 'mode');
  let resource: Record<string, unknown> | undefined;
  let fromBody: unknown;
  if (req.body.trim() !== '') {
    const parsed = parseJsonBody(req.headers['content-type'], req.body, `a ${def.type} or Parameters`);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest(`The body must be a ${def.type} or a Parameters resource`);
    const body = parsed as Record<string, unknown>;
    if (body.resourceType === 'Parameters') {
      const params = Array.isArray(body.parameter) ? body.parameter as Array<Record<string, unknown>> : [];
      const known = new Set(['resource', 'mode']);
      const unknown = params.find((p) => !known.has(String(p.name)));
      if (unknown) throw badRequest(`$validate does not take the parameter ${String(unknown.name).slice(0, 40)} (only resource and mode)`);
      const r = params.find((p) => p.name === 'resource')?.resource;
      resource = r && typeof r === 'object' && !Array.isArray(r) ? r as Record<string, unknown> : undefined;
      fromBody = params.find((p) => p.name === 'mode')?.valueCode;
    } else {
      resource = body;
    }
  }
  const mode = fromBody ?? fromQuery ?? (id ? 'update' : 'create');
  if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) throw badRequest('mode must be create, update or delete');
  if (mode !== 'delete' && !resource) throw badRequest(`$validate in mode ${mode} needs the resource (the body, or Parameters.resource)`);
  if (resource && resource.resourceType !== def.type) throw badRequest(`The resource to validate is a ${String(resource.resourceType).slice(0, 40)}, expected ${def.type}`);
  if ((mode === 'update' || mode === 'delete') && !id) throw badRequest(`$validate in mode ${mode} is an instance operation: POST ${def.type}/[id]/$validate`);
  return { mode: mode as Mode, resource };
}

const issueOf = (severity: OperationOutcomeIssue['severity'], code: OperationOutcomeIssue['code'], diagnostics: string): OperationOutcomeIssue => ({ severity, code, diagnostics });

/**
 * `POST [type]/$validate` and `POST [type]/[id]/$validate`: whether the resource could be created,
 * updated or the instance deleted, checked as that interaction would (schema, invariants, profiles,
 * references in the caller's clinic) and with its permission. Answers 200 with an OperationOutcome
 * whose errors are the findings (FHIR: the operation succeeded, the resource may not); a request it
 * cannot read is a 4xx. Nothing is written but the AuditEvent.
 */
export async function runValidate(deps: FhirDeps, access: AccessContext, req: FhirRequest, def: ResourceDefinition): Promise<FhirResult> {
  const id = req.params.id;
  const interaction: FhirInteraction = queryValue(req, 'mode') === 'delete' ? 'delete' : id ? 'update' : 'create';
  const facts = { ...callerFacts(access, 'validate', 'E'), resourceType: def.type, resourceId: id };
  return audited(deps.db, access, facts, { compartmentPatientId: compartmentFor(access, [{ type: def.type, interaction }]) }, async (tx) => {
    const instance = id === undefined ? undefined : ourId(id);
    const asked = readAsked(req, def, instance);
    // The permission of the interaction being checked: validating tells what that interaction would meet.
    const decision = tx.require(def.type, asked.mode);
    const repo = new Repository(def, tx.trx, { fhirBase: deps.cfg.fhirBaseUrl, sql: tx.sql });
    const issues: OperationOutcomeIssue[] = [];
    const current = instance ? await repo.read(instance) : null;
    if (asked.mode === 'delete') {
      if (!current || current.deleted) issues.push(issueOf('error', 'not-found', `${def.type}/${instance} is not known: there is nothing to delete`));
    } else if (asked.resource) {
      if (asked.mode === 'create' && asked.resource.id !== undefined) issues.push(issueOf('information', 'informational', 'The id in the resource is ignored on create: the server assigns one'));
      if (asked.mode === 'update') {
        if (typeof asked.resource.id !== 'string' || asked.resource.id.toLowerCase() !== instance) issues.push({ ...issueOf('error', 'invalid', `The resource must carry the id ${instance} of the instance it updates`), expression: [`${def.type}.id`] });
        if (!current) issues.push(issueOf('information', 'informational', `${def.type}/${instance} does not exist in this clinic: the update would create it`));
      }
      const found = validateResource(asked.resource, def.type as ValidatedType);
      issues.push(...found);
      if (!found.length) {
        try {
          await assertReferencesResolve(tx.trx, def, asked.resource as { resourceType: string }, deps.cfg.fhirBaseUrl);
          // What the write's own hook would refuse (a document's attachments), without storing or binding anything.
          const ctx: InteractionContext = { ...tx, deps, def, req, decision, repo };
          await deps.hooks?.checkWrite?.(ctx, asked.resource as FhirResource, { id: instance ?? randomUUID() });
        } catch (err) {
          if (!(err instanceof OperationOutcomeError)) throw err;
          issues.push(...err.issues);
        }
      }
    }
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
    if (!errors) issues.push(issueOf('information', 'informational', `Validation successful: the ${asked.mode} of ${def.type}${instance ? `/${instance}` : ''} meets this server's rules`));
    tx.audit({ ...facts, resourceId: instance, query: `mode=${asked.mode}`, outcomeDesc: errors ? `${errors} error(s) found` : undefined,
      patientIds: current?.patientId ? [current.patientId] : [] });
    return { status: 200, body: JSON.stringify({ resourceType: 'OperationOutcome', issue: issues }) };
  });
}
