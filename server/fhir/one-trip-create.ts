import crypto from 'node:crypto';
import { sqlLiteral } from '../../db/literal';
import { auditInsertSql, withRequestFacts } from '../audit/writer';
import type { AccessContext } from '../auth/access-context';
import { OperationOutcomeError } from '../http/errors';
import { oneTrip, plainlyGranted } from '../pipeline/one-trip';
import { parseJsonBody, readResourceBody } from './body';
import { type FhirDeps, type FhirResult, compartmentFor, interactionFacts } from './interaction';
import { localReferences } from './references';
import { type FhirResource, stampVersion, versionRow } from './repository';
import type { FhirRequest } from './request';
import type { ResourceDefinition } from './resources/types';

/**
 * `POST [type]` in one round trip (pipeline/one-trip.ts): the validated resource's INSERT and its
 * AuditEvent travel with BEGIN, the checked context and COMMIT. Only for a plain create: no
 * If-None-Exist, no references to check, no attachments to store, `Prefer` honoured as usual;
 * everything else, every refusal and every bad body take the full path (which validates again and
 * refuses with its AuditEvent).
 */
export async function createInOneTrip(deps: FhirDeps, access: AccessContext, req: FhirRequest, def: ResourceDefinition): Promise<FhirResult | undefined> {
  if (def.rowStore || def.storesAttachments || def.serverWritten || req.headers['if-none-exist'] !== undefined) return undefined;
  let resource: FhirResource;
  try {
    // References first, on the parsed body: a create with references to check goes to the full path
    // before the (costly) validation, which that path runs itself.
    const parsed = parseJsonBody(req.headers['content-type'], req.body, 'a FHIR resource') as FhirResource;
    if (!parsed || typeof parsed !== 'object' || parsed.resourceType !== def.type) return undefined;
    const found = localReferences(def, parsed, deps.cfg.fhirBaseUrl);
    if (found.refs.length || found.issues.length) return undefined;
    resource = readResourceBody(req, def.type);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return undefined;
    throw err;
  }
  delete resource.id;
  const compartment = compartmentFor(access, [{ type: def.type, interaction: 'create' }]);
  const id = crypto.randomUUID();
  const stored = stampVersion(resource, id, 1, new Date().toISOString());
  const { row, text, patientId } = versionRow(def, stored, false);
  const rows = await oneTrip(deps.db, access, compartment, (membership) => {
    if (!plainlyGranted(access, membership, def.type, 'create', compartment)) return undefined;
    const cols = Object.keys(row);
    const facts = withRequestFacts({ ...interactionFacts(access, req, def, 'create'), resourceId: id, versionId: '1', patientIds: patientId ? [patientId] : [], roleName: membership.role });
    return {
      // A trigger appends the version to the history and the search index in the same statement.
      statement: `insert into ${def.table} (${cols.join(', ')}, clinic_id) values (${cols.map((c) => sqlLiteral(row[c])).join(', ')}, app_clinic_id()) returning id`,
      audit: auditInsertSql(facts),
    };
  }, { writes: true });
  if (!rows) return undefined;
  const meta = stored.meta as { lastUpdated: string };
  const base = deps.cfg.fhirBaseUrl;
  const headers = {
    ETag: 'W/"1"', 'Last-Modified': new Date(meta.lastUpdated).toUTCString(),
    'Content-Location': `${base}/${def.type}/${id}/_history/1`, Location: `${base}/${def.type}/${id}/_history/1`,
  };
  const prefer = /return=(minimal|representation|OperationOutcome)/.exec(String(req.headers.prefer ?? ''))?.[1] ?? 'representation';
  if (prefer === 'minimal') return { status: 201, headers };
  if (prefer === 'OperationOutcome') {
    return { status: 201, headers, body: JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `${def.type}/${id} version 1 stored` }] }) };
  }
  return { status: 201, headers, body: text };
}
