import { expect } from 'chai';
import { parseScope, parseScopes, type SmartVerb } from '../../server/auth/scopes';

const verbsOf = (raw: string): SmartVerb[] | null => {
  const s = parseScope(raw);
  return s ? [...s.verbs].sort() : null;
};

describe('SMART scope grammar', () => {
  describe('v1 scopes', () => {
    it('a v1 .read scope grants read and search but not create', () => {
      const s = parseScope('patient/Patient.read');
      expect(s).to.not.equal(null);
      expect(s!.context).to.equal('patient');
      expect(s!.resourceType).to.equal('Patient');
      expect(s!.version).to.equal(1);
      expect(s!.verbs.has('r')).to.equal(true);
      expect(s!.verbs.has('s')).to.equal(true);
      expect(s!.verbs.has('c')).to.equal(false);
      expect(verbsOf('patient/Patient.read')).to.deep.equal(['r', 's']);
    });

    it('a v1 .write scope grants create, update and delete but not read', () => {
      expect(verbsOf('user/Appointment.write')).to.deep.equal(['c', 'd', 'u']);
    });

    it('a v1 .* scope grants all five verbs', () => {
      expect(verbsOf('system/MedicationRequest.*')).to.deep.equal(['c', 'd', 'r', 's', 'u']);
      expect(parseScope('system/MedicationRequest.*')!.version).to.equal(1);
    });

    it('a wildcard resource type is kept as *', () => {
      const s = parseScope('user/*.read');
      expect(s!.resourceType).to.equal('*');
      expect(s!.context).to.equal('user');
    });

    it('a v1 scope with granular params grants nothing', () => {
      expect(parseScope('patient/Observation.read?category=laboratory')).to.equal(null);
    });
  });

  describe('v2 scopes', () => {
    it('a v2 .rs scope grants exactly read and search', () => {
      const s = parseScope('user/Patient.rs');
      expect(s!.version).to.equal(2);
      expect(verbsOf('user/Patient.rs')).to.deep.equal(['r', 's']);
    });

    it('a v2 .cruds scope on * grants all five verbs for every type', () => {
      const s = parseScope('system/*.cruds');
      expect(s!.resourceType).to.equal('*');
      expect(s!.context).to.equal('system');
      expect(verbsOf('system/*.cruds')).to.deep.equal(['c', 'd', 'r', 's', 'u']);
    });

    it('single-letter v2 scopes grant only that verb', () => {
      expect(verbsOf('user/Patient.c')).to.deep.equal(['c']);
      expect(verbsOf('user/Patient.d')).to.deep.equal(['d']);
      expect(verbsOf('user/Patient.cd')).to.deep.equal(['c', 'd']);
    });

    it('v2 letters out of order, repeated or unknown are malformed', () => {
      for (const raw of ['user/Patient.sr', 'user/Patient.rr', 'user/Patient.x', 'user/Patient.', 'user/Patient.rsc', 'user/Patient.R', 'user/Patient.rw']) {
        expect(parseScope(raw), raw).to.equal(null);
      }
    });

    it('granular params are parsed and URL-decoded', () => {
      const s = parseScope('patient/Observation.rs?category=http%3A%2F%2Fterminology.hl7.org%7Claboratory&status=final');
      expect(s).to.not.equal(null);
      expect(s!.params).to.deep.equal({ category: 'http://terminology.hl7.org|laboratory', status: 'final' });
      expect(s!.raw).to.equal('patient/Observation.rs?category=http%3A%2F%2Fterminology.hl7.org%7Claboratory&status=final');
    });

    it('a scope without a query has no params', () => {
      expect(parseScope('user/Patient.rs')).to.not.have.property('params');
    });

    it('a malformed granular query grants nothing', () => {
      for (const raw of [
        'user/Observation.rs?',
        'user/Observation.rs?category',
        'user/Observation.rs?=laboratory',
        'user/Observation.rs?category=',
        'user/Observation.rs?category=a&',
        'user/Observation.rs?category=a&&status=b',
        'user/Observation.rs?category=a&category=b',
        'user/Observation.rs?category=%E0%A4%A',
        'user/Observation.rs?category=a=b',
        'user/Observation.rs?cat%20egory=a',
      ]) {
        expect(parseScope(raw), raw).to.equal(null);
      }
    });

    it('a __proto__ param name stays an own property and does not pollute prototypes', () => {
      const s = parseScope('user/Observation.rs?__proto__=x');
      expect(s).to.not.equal(null);
      expect(Object.prototype.hasOwnProperty.call(s!.params, '__proto__')).to.equal(true);
      expect(({} as Record<string, unknown>).x).to.equal(undefined);
      expect(Object.getPrototypeOf(s!.params)).to.equal(Object.prototype);
    });
  });

  describe('strictness', () => {
    it('malformed scopes grant nothing', () => {
      for (const raw of [
        '',
        'Patient.read',
        'patient/Patient',
        'patient/Patient.',
        'patient/patient.read',
        'patient/P.read',
        'patient/Patient1.read',
        'patient/Pat-ient.read',
        'patient/Patient.Read',
        'patient/Patient.read.read',
        'patient/Patient/1.read',
        'patient/**.read',
        'patient//Patient.read',
        `patient/P${'a'.repeat(64)}.read`,
      ]) {
        expect(parseScope(raw), raw).to.equal(null);
      }
    });

    it('accepts a 64-character resource type but not 65', () => {
      expect(parseScope(`user/P${'a'.repeat(63)}.rs`)).to.not.equal(null);
      expect(parseScope(`user/P${'a'.repeat(64)}.rs`)).to.equal(null);
    });

    it('whitespace anywhere makes a scope malformed', () => {
      for (const raw of [' patient/Patient.read', 'patient/Patient.read ', 'patient/ Patient.read', 'patient/Patient .read', 'patient/Patient.r s', 'user/Observation.rs?category=a b']) {
        expect(parseScope(raw), JSON.stringify(raw)).to.equal(null);
      }
    });

    it('an uppercase or unknown context grants nothing', () => {
      for (const raw of ['Patient/Patient.read', 'USER/Patient.rs', 'admin/Patient.read', 'launch/Patient.read', 'clinic/*.cruds']) {
        expect(parseScope(raw), raw).to.equal(null);
      }
    });

    it('non-resource scopes are not resource scopes', () => {
      for (const raw of ['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access', 'profile']) {
        expect(parseScope(raw), raw).to.equal(null);
      }
    });

    it('an absurdly long scope is refused before parsing', () => {
      expect(parseScope(`user/Observation.rs?code=${'a'.repeat(2000)}`)).to.equal(null);
    });
  });

  describe('parseScopes', () => {
    it('splits a space-separated claim into resource scopes and other scopes', () => {
      const { resource, other } = parseScopes('openid fhirUser launch/patient patient/Patient.read user/Appointment.rs offline_access');
      expect(resource.map((s) => s.raw)).to.deep.equal(['patient/Patient.read', 'user/Appointment.rs']);
      expect(other).to.deep.equal(['openid', 'fhirUser', 'launch/patient', 'offline_access']);
    });

    it('puts malformed resource scopes into other, where they grant nothing', () => {
      const { resource, other } = parseScopes('user/Patient.sr admin/Patient.read user/Patient.rs');
      expect(resource.map((s) => s.raw)).to.deep.equal(['user/Patient.rs']);
      expect(other).to.deep.equal(['user/Patient.sr', 'admin/Patient.read']);
    });

    it('tolerates repeated spaces between scopes', () => {
      const { resource, other } = parseScopes('  openid   user/Patient.rs ');
      expect(resource.map((s) => s.raw)).to.deep.equal(['user/Patient.rs']);
      expect(other).to.deep.equal(['openid']);
    });

    it('accepts an array claim, one scope per element', () => {
      const { resource, other } = parseScopes(['system/*.rs', 'launch', 'user/Patient.rs user/Appointment.rs']);
      expect(resource.map((s) => s.raw)).to.deep.equal(['system/*.rs']);
      // An element with a space is one malformed scope, not two scopes.
      expect(other).to.deep.equal(['launch', 'user/Patient.rs user/Appointment.rs']);
    });

    it('an absent or non-string claim grants nothing', () => {
      expect(parseScopes(undefined)).to.deep.equal({ resource: [], other: [] });
      expect(parseScopes('')).to.deep.equal({ resource: [], other: [] });
      expect(parseScopes([1, null, { raw: 'user/*.cruds' }] as unknown as string[])).to.deep.equal({ resource: [], other: [] });
    });
  });
});
