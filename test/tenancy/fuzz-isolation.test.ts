import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { FuzzRequest, FuzzResponse } from '../../scripts/fuzz/client';
import { judge, type OracleContext } from '../../scripts/fuzz/oracle';
import { seedOfToday } from '../../scripts/fuzz/prng';
import { Registry } from '../../scripts/fuzz/registry';
import { describeFailure, runFuzz, type FuzzSummary } from '../../scripts/fuzz/run';
import type { Caller } from '../../scripts/fuzz/world';
import { admin, testServer, tokenFor } from '../helpers/server';

// The long run of the same stream: `npm run fuzz -- --requests 20000 --seed N` (README, Testing).
const FIXED_SEED = 20_260_101;

async function fuzz(seed: number, requests: number): Promise<FuzzSummary> {
  const s = await testServer();
  const baseUrl = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  return runFuzz({ baseUrl, admin: await admin(), mint: tokenFor }, { seed, requests });
}

function expectClean(summary: FuzzSummary): void {
  const report = summary.failures.map((f) => describeFailure(summary, f)).join('\n\n');
  expect(summary.leaks + summary.serverErrors, `seed ${summary.seed}:\n${report}`).to.equal(0);
}

describe('Randomized clinic isolation (seeded fuzz over every route)', () => {
  describe('the oracle', () => {
    const A = '0a000000-0000-4000-a000-000000000000';
    const B = '0b000000-0000-4000-a000-000000000000';
    const [pA1, pA2, pB1, docA2] = ['1a', '2a', '1b', 'd2'].map((x) => `${x}000000-0000-4000-a000-000000000001`);
    const registry = new Registry();
    registry.add(A, 'A', 'Clinic');
    registry.add(B, 'B', 'Clinic');
    registry.add(pA1, 'A', 'Patient', [pA1]);
    registry.add(pA2, 'A', 'Patient', [pA2]);
    registry.add(pB1, 'B', 'Patient', [pB1]);
    registry.add(docA2, 'A', 'DocumentReference', [pA2]);
    const doctor: Caller = { name: 'A/doctor', clinic: 'A', clinicId: A, userId: 'u', token: 't' };
    const patient1: Caller = { ...doctor, name: 'A/patient', patient: pA1 };
    const verdict = (caller: Caller, path: string, status: number, body: unknown, headers: Array<[string, string]> = []) => {
      const request: FuzzRequest = { method: 'GET', path, headers: {}, label: 'test' };
      const response: FuzzResponse = { status, headers, text: typeof body === 'string' ? body : JSON.stringify(body) };
      const ctx: OracleContext = { caller, request, response, registry, mentioned: { A: new Set(), B: new Set() }, planted: { A: new Set(), B: new Set() } };
      return judge(ctx).findings.map((f) => f.problem);
    };
    const bundleOf = (...ids: string[]) => ({ resourceType: 'Bundle', type: 'searchset', entry: ids.map((id) => ({ resource: { resourceType: 'Patient', id } })) });

    it("flags another clinic's id in a search answer, and another patient's for a patient/ token", () => {
      expect(verdict(doctor, '/fhir/Patient', 200, bundleOf(pA1, pB1))).to.deep.equal(['other-clinic-id']);
      expect(verdict(doctor, '/fhir/Patient', 200, bundleOf(pA1, pA2))).to.deep.equal([]);
      expect(verdict(patient1, '/fhir/Patient', 200, bundleOf(pA1, pA2))).to.deep.equal(['other-patient-id']);
      expect(verdict(patient1, '/fhir/DocumentReference', 200, { resourceType: 'DocumentReference', id: docA2 })).to.deep.equal(['other-patient-id']);
    });

    it('excuses an id the request itself named, but not an answer that says it exists', () => {
      const echo = { resourceType: 'OperationOutcome', issue: [{ diagnostics: `Patient/${pB1} is not known` }] };
      expect(verdict(doctor, `/fhir/Patient/${pB1}`, 404, echo)).to.deep.equal([]);
      expect(verdict(doctor, `/fhir/Patient/${pB1}`, 410, echo)).to.deep.equal(['foreign-target-answered']);
    });

    it('flags a 5xx, a foreign id in a header, and a signed link under another clinic', () => {
      expect(verdict(doctor, '/fhir/Patient', 500, 'oops')).to.deep.equal(['server-error']);
      expect(verdict(doctor, '/fhir/Patient', 201, {}, [['location', `http://x/fhir/Patient/${pB1}`]])).to.deep.equal(['other-clinic-id']);
      const link = `http://s3/bucket/clinics/${B}/patients/x?X-Amz-Signature=00`;
      expect(verdict(doctor, '/fhir/Binary/x', 302, '', [['location', link]])).to.include('signed-link-outside-clinic');
    });
  });

  it(`2 000 random requests (seed ${FIXED_SEED}) show no caller an id of another clinic or patient, and none is a 5xx`, async function () {
    this.timeout(180_000);
    const summary = await fuzz(FIXED_SEED, 2000);
    expectClean(summary);
    // The stream really tried: many requests named the other clinic's ids, many answers were judged.
    expect(summary.requests).to.equal(2000);
    expect(summary.foreignAttempts).to.be.greaterThan(400);
    expect(summary.checkedIds).to.be.greaterThan(2_000);
    expect(Object.keys(summary.byLabel)).to.include.members(['read', 'vread', 'search', 'next-link', 'conditional-update', 'patch', 'transaction', 'batch', 'binary-read', 'audit-search']);
    expect(summary.byLabel['binary-read']['302'], 'Binary downloads answered with a signed link').to.be.greaterThan(0);
  });

  const daily = seedOfToday();
  it(`500 more requests on today's seed (${daily}) find nothing either`, async function () {
    this.timeout(120_000);
    expectClean(await fuzz(daily, 500));
  });
});
