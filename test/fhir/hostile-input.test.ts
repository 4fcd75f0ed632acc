import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { expect } from 'chai';
import type { Response } from 'supertest';
import { jsonTextProblem, MAX_JSON_DEPTH } from '../../server/fhir/hostile-input';
import { auditOf } from '../helpers/audit';
import { actor, admin, api, FHIR, patientBody, testServer } from '../helpers/server';

type Actor = Awaited<ReturnType<typeof actor>>;

/** What a request left behind: stored Patients and Binaries of the clinic, AuditEvents of the user. */
async function footprint(who: Actor) {
  const db = await admin();
  const [{ n: patients }] = await db('patient').where({ clinic_id: who.clinic }).count({ n: '*' });
  const [{ n: binaries }] = await db('document_binary').where({ clinic_id: who.clinic }).count({ n: '*' });
  return { stored: Number(patients) + Number(binaries), audits: await auditOf(who.user) };
}

/** Sends `request` and checks the refusal: status, an OperationOutcome, nothing stored, ONE AuditEvent (outcome 4) in the token's clinic. */
async function expectRefused(who: Actor, status: number, request: () => PromiseLike<{ status: number; body: unknown; text: string; headers?: Record<string, string> }>, diagnostics: RegExp) {
  const before = await footprint(who);
  const res = await request();
  expect(res.status, res.text).to.equal(status);
  const outcome = (typeof res.body === 'object' && res.body && 'resourceType' in res.body ? res.body : JSON.parse(res.text)) as { resourceType: string; issue: Array<{ diagnostics: string }> };
  expect(outcome.resourceType).to.equal('OperationOutcome');
  expect(outcome.issue[0].diagnostics).to.match(diagnostics);
  const after = await footprint(who);
  expect(after.stored, 'nothing stored').to.equal(before.stored);
  const added = after.audits.slice(before.audits.length);
  expect(added.map((a) => a.outcome), 'exactly one AuditEvent, outcome 4').to.deep.equal(['4']);
  expect(added[0].outcomeDesc).to.match(diagnostics);
  const rows = await (await admin())('audit_event').where({ outcome_desc: added[0].outcomeDesc, user_id: who.user }).pluck('clinic_id');
  expect(rows).to.include(who.clinic);
  return res;
}

/** A request written by hand, for bodies and headers supertest would rewrite. */
async function raw(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<{ status: number; body: unknown; text: string }> {
  const { port } = (await testServer()).server.address() as net.AddressInfo;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try { parsed = JSON.parse(text); } catch { parsed = undefined; }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function nested(levels: number): unknown {
  let inner: unknown = { url: 'http://example.org/x', valueString: 'x' };
  for (let i = 0; i < levels; i++) inner = { url: 'http://example.org/x', extension: [inner] };
  return inner;
}

describe('Hostile input gets a 4xx OperationOutcome and one AuditEvent, never a 500', () => {
  let who: Actor;
  let patientId: string;
  before(async () => {
    who = await actor('doctor');
    const created = await (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR).send(JSON.stringify(patientBody('Known')));
    expect(created.status).to.equal(201);
    patientId = created.body.id;
  });

  describe('NUL characters are refused before they reach PostgreSQL', () => {
    it('in a JSON string of the body (\\u0000): 400', async () => {
      await expectRefused(who, 400, async () => (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR)
        .send(JSON.stringify(patientBody('Nul\u0000Name'))), /NUL/);
    });

    it('in a search value: 400', async () => {
      await expectRefused(who, 400, async () => (await api()).get('/fhir/Patient?family=Nul%00Name').set(who.auth), /query string holds a NUL/);
    });

    it('in a form-encoded POST _search body: 400', async () => {
      await expectRefused(who, 400, async () => (await api()).post('/fhir/Patient/_search').set(who.auth)
        .set('Content-Type', 'application/x-www-form-urlencoded').send('family=Nul%00Name'), /query string holds a NUL/);
    });

    it('in an id of the path, on read and on update: 400', async () => {
      await expectRefused(who, 400, async () => (await api()).get('/fhir/Patient/abc%00def').set(who.auth), /path holds a NUL/);
      await expectRefused(who, 400, async () => (await api()).put('/fhir/Patient/abc%00').set(who.auth).set('Content-Type', FHIR)
        .send(JSON.stringify({ ...patientBody('Nul'), id: 'abc\u0000' })), /NUL/);
    });

    it('in the If-None-Exist criteria of a conditional create: 400', async () => {
      await expectRefused(who, 400, async () => (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR)
        .set('If-None-Exist', 'family=Nul%00').send(JSON.stringify(patientBody('Conditional'))), /NUL/);
    });

    it('in X-Security-Context of a document upload: 400', async () => {
      await expectRefused(who, 400, async () => (await api()).post('/fhir/Binary').set(who.auth).set('Content-Type', 'application/pdf')
        .set('X-Security-Context', `Patient/${patientId}%00`).send(Buffer.from('%PDF-1.4\n')), /X-Security-Context/);
    });

    it('in the URL of a transaction entry: a 4xx, and nothing of the transaction is written', async () => {
      const bundle = {
        resourceType: 'Bundle', type: 'transaction', entry: [
          { resource: patientBody('InBundle'), request: { method: 'POST', url: 'Patient' } },
          { request: { method: 'GET', url: 'Patient/abc%00' } },
        ],
      };
      const before = await footprint(who);
      const res = await (await api()).post('/fhir').set(who.auth).set('Content-Type', FHIR).send(JSON.stringify(bundle));
      expect(res.status, res.text).to.be.within(400, 499);
      expect(res.body.resourceType).to.equal('OperationOutcome');
      expect((await footprint(who)).stored).to.equal(before.stored);
    });

    it("a raw NUL in a header never reaches the server's code: Node's parser answers 400", async () => {
      const { port } = (await testServer()).server.address() as net.AddressInfo;
      const answer = await new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.end(`GET /fhir/Patient HTTP/1.1\r\nHost: x\r\nAuthorization: ${who.auth.Authorization}\r\nIf-Match: W/"1\u0000"\r\n\r\n`);
        });
        let text = '';
        socket.on('data', (c) => { text += c.toString(); });
        socket.on('close', () => resolve(text));
      });
      expect(answer).to.match(/^HTTP\/1\.1 400/);
    });
  });

  describe('malformed percent-encoding', () => {
    it('in the path: 400, on FHIR routes and on document routes', async () => {
      await expectRefused(who, 400, async () => (await api()).get('/fhir/Patient/%C3%28').set(who.auth), /malformed percent-encoding/);
      await expectRefused(who, 400, async () => (await api()).get('/fhir/Binary/%E0%A4%A').set(who.auth), /malformed percent-encoding/);
    });

    it('in the query string: 400 (not searched as a replacement character)', async () => {
      await expectRefused(who, 400, async () => (await api()).get('/fhir/Patient?family=%C3%28').set(who.auth), /malformed percent-encoding/);
      await expectRefused(who, 400, async () => (await api()).get('/fhir/Patient?family=100%').set(who.auth), /malformed percent-encoding/);
    });
  });

  describe(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`, () => {
    it('1 500 levels of extension: 400 before validation (no stack overflow)', async () => {
      const body = JSON.stringify(patientBody('Deep', { extension: [nested(1500)] }));
      await expectRefused(who, 400, async () => (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR).send(body), /nested deeper than 64 levels/);
    });

    it('100 000 nested arrays: 400, also as a Bundle and as a JSON Patch', async () => {
      const body = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      await expectRefused(who, 400, async () => (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR).send(body), /nested deeper/);
      await expectRefused(who, 400, async () => (await api()).post('/fhir').set(who.auth).set('Content-Type', FHIR).send(body), /nested deeper/);
      const patch = JSON.stringify([{ op: 'add', path: '/extension', value: [nested(1500)] }]);
      await expectRefused(who, 400, async () => (await api()).patch(`/fhir/Patient/${patientId}`).set(who.auth)
        .set('Content-Type', 'application/json-patch+json').send(patch), /nested deeper/);
    });

    it('a resource nested just under the limit is still accepted', async () => {
      const res = await (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR)
        .send(JSON.stringify(patientBody('Nested', { extension: [nested(25)] })));
      expect(res.status, res.text).to.equal(201);
    });

    it('the scan counts brackets outside strings only and reads escapes exactly', () => {
      expect(jsonTextProblem(JSON.stringify({ text: '['.repeat(500) }))).to.equal(undefined);
      expect(jsonTextProblem('{"a":"\\"[[[[","b":1}', 2)).to.equal(undefined);
      expect(jsonTextProblem('[[[]]]', 2)).to.match(/deeper than 2/);
      expect(jsonTextProblem('{"a":"\\\\u0000"}')).to.equal(undefined); // an escaped backslash, then text
      expect(jsonTextProblem('{"a":"\\u0000"}')).to.match(/NUL/);
      expect(jsonTextProblem('{"a":"\\ud83d\\ude00"}')).to.equal(undefined);
      expect(jsonTextProblem('{"a":"\\ud83d"}')).to.match(/surrogate/);
      expect(jsonTextProblem('{"a":"\\ude00"}')).to.match(/surrogate/);
    });

    it('a lone surrogate escape (which PostgreSQL refuses) is a 400 too', async () => {
      const body = JSON.stringify(patientBody('Surrogate')).replace('Surrogate', '\\ud800x');
      await expectRefused(who, 400, async () => (await api()).post('/fhir/Patient').set(who.auth).set('Content-Type', FHIR).send(body), /surrogate/);
    });
  });

  describe('Content-Encoding', () => {
    const json = () => JSON.stringify(patientBody('Encoded'));

    it('gzip or br that is not actually compressed: 400', async () => {
      for (const coding of ['gzip', 'br', 'deflate']) {
        await expectRefused(who, 400, () => raw('POST', '/fhir/Patient', { ...who.auth, 'Content-Type': FHIR, 'Content-Encoding': coding }, json()), /could not be decoded/);
      }
    });

    it('a coding the server does not know: 415', async () => {
      await expectRefused(who, 415, () => raw('POST', '/fhir/Patient', { ...who.auth, 'Content-Type': FHIR, 'Content-Encoding': 'compress' }, json()), /Content-Encoding/);
    });

    it('a compressed document upload: 415 (documents are stored as sent)', async () => {
      await expectRefused(who, 415, () => raw('POST', '/fhir/Binary', {
        ...who.auth, 'Content-Type': 'application/pdf', 'Content-Encoding': 'gzip', 'X-Security-Context': `Patient/${patientId}`,
      }, zlib.gzipSync('%PDF-1.4\n')), /Content-Encoding/);
    });

    it('really compressed gzip and br bodies, and identity, are read as usual', async () => {
      for (const [coding, body] of [['gzip', zlib.gzipSync(json())], ['br', zlib.brotliCompressSync(json())], ['identity', Buffer.from(json())]] as const) {
        const res = await raw('POST', '/fhir/Patient', { ...who.auth, 'Content-Type': FHIR, 'Content-Encoding': coding }, body);
        expect(res.status, `${coding}: ${res.text}`).to.equal(201);
      }
    });
  });

  describe('unknown paths and methods under /fhir', () => {
    it('an unknown path: 404', async () => {
      await expectRefused(who, 404, async () => (await api()).get('/fhir/Foo/bar/baz/qux').set(who.auth), /No such endpoint/);
    });

    it('an unknown resource type: 404', async () => {
      await expectRefused(who, 404, async () => (await api()).get('/fhir/Unknown').set(who.auth), /Unknown is not supported/);
    });

    it('a write to AuditEvent: 405', async () => {
      await expectRefused(who, 405, async () => (await api()).post('/fhir/AuditEvent').set(who.auth).set('Content-Type', FHIR)
        .send(JSON.stringify({ resourceType: 'AuditEvent' })), /AuditEvent is written by the server/);
    });

    it('a method the path does not take: 405 with Allow', async () => {
      const res = await expectRefused(who, 405, async () => (await api()).patch('/fhir/Patient').set(who.auth), /PATCH is not allowed/) as Response;
      expect(res.headers.allow).to.equal('GET, POST, PUT, DELETE');
    });

    it('without a token, an unknown path is still a 401 first', async () => {
      const res = await (await api()).get('/fhir/Foo/bar/baz/qux');
      expect(res.status).to.equal(401);
      expect(res.body.resourceType).to.equal('OperationOutcome');
    });
  });
});
