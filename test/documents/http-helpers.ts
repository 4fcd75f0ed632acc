import { auditEvents } from '../helpers/audit';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { EXT_LINK_EXPIRES, EXT_UNAVAILABLE } from '../../server/documents/attachments';
import { openDocuments, type OpenDocuments } from '../../server/documents/open';
import { admin, api, FHIR, testServer } from '../helpers/server';

/** End-to-end helpers for documents over HTTP against the shared test server (or a second app). */

type Auth = Record<string, string>;
type Agent = supertest.Agent | supertest.SuperTest<supertest.Test>;
export type Json = Record<string, unknown>;

export const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('base64');

export async function uploadBinary(auth: Auth, patientId: string, bytes: Buffer, contentType: string, agent?: Agent): Promise<supertest.Response> {
  return (agent ?? await api()).post('/fhir/Binary').set(auth).set('Content-Type', contentType)
    .set('X-Security-Context', `Patient/${patientId}`).send(bytes);
}

/** Uploads and returns the Binary id, failing the test with the server's answer otherwise. */
export async function binaryId(auth: Auth, patientId: string, bytes: Buffer, contentType = 'application/pdf', agent?: Agent): Promise<string> {
  const res = await uploadBinary(auth, patientId, bytes, contentType, agent);
  expect(res.status, res.text.slice(0, 400)).to.equal(201);
  return res.body.id as string;
}

export function docBody(patientId: string, attachment: Json): Json {
  return {
    resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${patientId}` },
    type: { coding: [{ system: 'http://loinc.org', code: '11502-2' }] }, content: [{ attachment }],
  };
}

export const inline = (bytes: Buffer, contentType = 'application/pdf'): Json => ({ contentType, data: bytes.toString('base64') });

export async function postDoc(auth: Auth, body: Json, agent?: Agent): Promise<supertest.Response> {
  return (agent ?? await api()).post('/fhir/DocumentReference').set(auth).set('Content-Type', FHIR).send(JSON.stringify(body));
}

export async function createdDoc(auth: Auth, body: Json, agent?: Agent): Promise<Json> {
  const res = await postDoc(auth, body, agent);
  expect(res.status, res.text.slice(0, 400)).to.equal(201);
  return res.body as Json;
}

export const attachmentOf = (doc: Json, i = 0): Json => ((doc.content as Json[])[i].attachment as Json);
export const extensionOf = (att: Json, url: string): Json | undefined =>
  ((att.extension ?? []) as Json[]).find((e) => e.url === url);
export const isSignedLink = (url: unknown): boolean => typeof url === 'string' && /[?&]X-Amz-Signature=[0-9a-f]{64}/.test(url);
export const expiresOf = (att: Json): string | undefined => extensionOf(att, EXT_LINK_EXPIRES)?.valueInstant as string | undefined;
export const unavailableOf = (att: Json): Json | undefined => extensionOf(att, EXT_UNAVAILABLE);

/** What a plain HTTP client (a browser) gets from a link: no token, no cookies. */
export async function fetchLink(url: string): Promise<{ status: number; body: Buffer; type: string | null }> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
}

/** Object keys in the shared store under a clinic (and optionally patient) prefix. */
export async function objectsUnder(clinicId: string, patientId?: string): Promise<string[]> {
  const { documents } = await testServer();
  const keys: string[] = [];
  for await (const item of documents.store.list(`clinics/${clinicId}/${patientId ? `patients/${patientId}/` : ''}`)) keys.push(item.key);
  return keys.sort();
}

/** document_binary rows of a patient, read as the migration account. */
export async function binaryRows(patientId: string): Promise<Array<{ id: string; object_key: string; document_id: string | null; size: number; sha1: string }>> {
  return (await admin())('document_binary').where({ patient_id: patientId }).select('id', 'object_key', 'document_id', 'size', 'sha1');
}

/** AuditEvents that hand out a link for a Binary (a `read` of it), as the migration account sees them. */
export async function linkAudits(binary: string): Promise<Array<{ agent: string; entities: string[]; outcome: string }>> {
  const rows = await auditEvents((q) => q.where({ type: 'rest', subtype: 'read' })
    .whereRaw("(entity_type = 'Binary' and entity_id = ?) or ? = any(related)", [binary, `Binary/${binary}`]));
  return rows.map((r) => ({
    agent: r.agent.map((a) => a.altId ?? '').join(' '),
    entities: (r.entity ?? []).map((e) => e.what?.reference ?? '').filter(Boolean).sort(),
    outcome: r.outcome ?? '',
  }));
}

/**
 * A second app on the shared database with its own document settings (environment as for
 * `npm start`); by default its own embedded store in a throwaway DATA_DIR.
 */
export async function secondApp(env: Record<string, string> = {}): Promise<{ agent: supertest.Agent; docs: OpenDocuments; dataDir: string; close(): Promise<void> }> {
  const shared = await testServer();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-docs-'));
  const cfg = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', BASE_URL: shared.cfg.baseUrl, ...env });
  const docs = await openDocuments(cfg, shared.db.runtime);
  const app = createApp({ cfg, db: shared.db.runtime, keys: shared.keyRing, oauthSecrets: shared.oauthSecrets, pageSecret: 'p'.repeat(32), documents: docs.service });
  return {
    agent: supertest.agent(app),
    docs,
    dataDir,
    close: async () => {
      await docs.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const samplePdf = (bytes = 4096) => Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(bytes - 9)]);
export const samplePng = (bytes = 2048) => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(bytes - 8)]);
