import { expect } from 'chai';
import '../../server/fhir/resources'; // declares the served types to the permission tree
import { authorize, interactionAction, type FhirInteraction, type Grantee } from '../../server/auth/authorize';
import {
  defaultRoles,
  grants,
  permissionKeys,
  permissionKey,
  resourceModules,
  validatePermissionTree,
  type PermissionAction,
} from '../../server/auth/permissions';
import { parseScopes } from '../../server/auth/scopes';

const PATIENT_ID = '7f3c1a52-2b8e-4c36-9a7e-0d8d6f1b2c44';
const ALL_PATIENTS = { clinical: { patients: { view: true, search: true, create: true, update: true, delete: true } } };

function grantee(scope: string, rolePermissions: unknown, patientId?: string): Grantee {
  return { scopes: parseScopes(scope).resource, rolePermissions, ...(patientId ? { patientId } : {}) };
}

describe('permission tree', () => {
  it('maps each served resource type to its module and action key', () => {
    expect(permissionKey('Patient', 'view')).to.equal('clinical.patients.view');
    expect(permissionKey('Appointment', 'create')).to.equal('scheduling.appointments.create');
    expect(permissionKey('MedicationRequest', 'update')).to.equal('clinical.prescriptions.update');
    expect(permissionKey('DocumentReference', 'delete')).to.equal('clinical.documents.delete');
    expect(permissionKey('AuditEvent', 'search')).to.equal('compliance.auditEvents.search');
  });

  it('has no key for unknown types, prototype names, or writes to AuditEvent', () => {
    expect(permissionKey('Observation', 'view')).to.equal(null);
    expect(permissionKey('constructor', 'view')).to.equal(null);
    expect(permissionKey('__proto__', 'view')).to.equal(null);
    expect(permissionKey('AuditEvent', 'create')).to.equal(null);
    expect(permissionKey('AuditEvent', 'delete')).to.equal(null);
  });

  it('a key grants when it resolves to boolean true', () => {
    expect(grants(ALL_PATIENTS, 'clinical.patients.view')).to.equal(true);
    expect(grants({ clinical: { patients: { view: false } } }, 'clinical.patients.view')).to.equal(false);
  });

  it("a role value of 'true' (string) or 1 grants nothing", () => {
    for (const v of ['true', 1, 'yes', {}, { true: true }, [true], null, undefined]) {
      expect(grants({ clinical: { patients: { view: v } } }, 'clinical.patients.view'), JSON.stringify(v)).to.equal(false);
    }
  });

  it('a parent object set to true does not grant its children, and a child does not grant its parent', () => {
    expect(grants({ clinical: true }, 'clinical.patients.view')).to.equal(false);
    expect(grants({ clinical: { patients: true } }, 'clinical.patients.view')).to.equal(false);
    expect(grants(ALL_PATIENTS, 'clinical.patients')).to.equal(false);
  });

  it('__proto__ key does not grant', () => {
    // JSON.parse turns "__proto__" into an own key, the shape an attacker-edited role would have.
    const polluted = JSON.parse('{"__proto__": {"view": true}, "clinical": {"__proto__": {"view": true}}}') as unknown;
    expect(grants(polluted, '__proto__.view')).to.equal(false);
    expect(grants(polluted, 'clinical.__proto__.view')).to.equal(false);
    expect(grants(JSON.parse('{"constructor": {"view": true}}'), 'constructor.view')).to.equal(false);
    expect(grants({}, '__proto__')).to.equal(false);
  });

  it('inherited keys (constructor, toString, a prototype chain) do not grant', () => {
    expect(grants({}, 'constructor')).to.equal(false);
    expect(grants({}, 'toString')).to.equal(false);
    expect(grants({}, 'hasOwnProperty')).to.equal(false);
    expect(grants(Object.create({ clinical: { patients: { view: true } } }), 'clinical.patients.view')).to.equal(false);
    expect(grants({ clinical: Object.create({ patients: { view: true } }) }, 'clinical.patients.view')).to.equal(false);
  });

  it('non-object trees and malformed keys grant nothing', () => {
    for (const tree of [null, undefined, true, 'clinical.patients.view', 1, [ALL_PATIENTS]]) {
      expect(grants(tree, 'clinical.patients.view'), JSON.stringify(tree)).to.equal(false);
    }
    expect(grants(ALL_PATIENTS, '')).to.equal(false);
    expect(grants(ALL_PATIENTS, 'clinical..patients.view')).to.equal(false);
    expect(grants(ALL_PATIENTS, 'clinical.patients.view.')).to.equal(false);
  });

  it('validatePermissionTree accepts every default role', () => {
    for (const [name, tree] of Object.entries(defaultRoles())) {
      expect(validatePermissionTree(tree), name).to.deep.equal([]);
    }
    expect(validatePermissionTree({ clinical: { patients: { view: false } } })).to.deep.equal([]);
  });

  it('validatePermissionTree reports non-objects, non-boolean leaves and unknown modules', () => {
    expect(validatePermissionTree(null)).to.have.length(1);
    expect(validatePermissionTree([])).to.have.length(1);
    expect(validatePermissionTree('{}')).to.have.length(1);
    const problems = validatePermissionTree({
      clinical: { patients: { view: 'true', search: 1, veiw: true }, prescriptions: true },
      billingx: { invoices: { view: true } },
      compliance: { auditEvents: { create: true } },
    });
    expect(problems.join('\n')).to.include('clinical.patients.view').and.include('clinical.patients.search');
    expect(problems.join('\n')).to.include("unknown permission 'clinical.patients.veiw'");
    expect(problems.join('\n')).to.include("'clinical.prescriptions' must be an object");
    expect(problems.join('\n')).to.include("unknown module 'billingx'");
    expect(problems.join('\n')).to.include("unknown permission 'compliance.auditEvents.create'");
    expect(problems).to.have.length(6);
  });

  it('validatePermissionTree flags a __proto__ key parsed from JSON', () => {
    expect(validatePermissionTree(JSON.parse('{"__proto__": {"x": true}}'))).to.deep.equal(["unknown module '__proto__'"]);
  });
});

describe('interactionAction', () => {
  it('maps FHIR interactions to permission actions', () => {
    const expected: Record<FhirInteraction, PermissionAction> = {
      read: 'view',
      vread: 'view',
      'history-instance': 'view',
      'history-type': 'search',
      search: 'search',
      create: 'create',
      update: 'update',
      patch: 'update',
      delete: 'delete',
    };
    for (const [i, a] of Object.entries(expected)) expect(interactionAction(i as FhirInteraction), i).to.equal(a);
  });
});

describe('authorize', () => {
  const ALL = 'user/*.cruds';

  it('allows when a scope and the role both grant, with no compartment and no constraints', () => {
    const d = authorize(grantee('user/Patient.rs', ALL_PATIENTS), 'Patient', 'read');
    expect(d).to.deep.equal({ allowed: true, action: 'view', permissionKey: 'clinical.patients.view' });
  });

  it('a v1 .read scope allows read and search but refuses create', () => {
    const who = grantee('user/Patient.read', ALL_PATIENTS);
    expect(authorize(who, 'Patient', 'read').allowed).to.equal(true);
    expect(authorize(who, 'Patient', 'search').allowed).to.equal(true);
    const create = authorize(who, 'Patient', 'create');
    expect(create.allowed).to.equal(false);
    expect(create.reason).to.equal('no scope grants create on Patient');
  });

  it('each interaction needs its own verb in the scope', () => {
    const cases: [string, FhirInteraction, boolean][] = [
      ['user/Patient.r', 'read', true],
      ['user/Patient.r', 'vread', true],
      ['user/Patient.r', 'history-instance', true],
      ['user/Patient.r', 'search', false],
      ['user/Patient.r', 'history-type', false],
      ['user/Patient.s', 'search', true],
      ['user/Patient.s', 'history-type', true],
      ['user/Patient.s', 'read', false],
      ['user/Patient.c', 'create', true],
      ['user/Patient.c', 'update', false],
      ['user/Patient.u', 'update', true],
      ['user/Patient.u', 'patch', true],
      ['user/Patient.u', 'delete', false],
      ['user/Patient.d', 'delete', true],
      ['user/Patient.d', 'read', false],
    ];
    for (const [scope, interaction, allowed] of cases) {
      expect(authorize(grantee(scope, ALL_PATIENTS), 'Patient', interaction).allowed, `${scope} ${interaction}`).to.equal(allowed);
    }
  });

  it('a scope for another type does not apply; a * scope applies to every type', () => {
    const tree = defaultRoles()['clinic-admin'];
    const d = authorize(grantee('user/Appointment.cruds', tree), 'Patient', 'read');
    expect(d.allowed).to.equal(false);
    expect(d.reason).to.equal('no scope grants view on Patient');
    for (const type of Object.keys(resourceModules())) {
      expect(authorize(grantee('system/*.rs', tree), type, 'search').allowed, type).to.equal(true);
    }
  });

  it('a role that lacks the key refuses with the key in the reason', () => {
    const d = authorize(grantee(ALL, { clinical: { patients: { search: true } } }), 'Patient', 'read');
    expect(d.allowed).to.equal(false);
    expect(d.permissionKey).to.equal('clinical.patients.view');
    expect(d.reason).to.equal('role does not grant clinical.patients.view');
  });

  it("a role value of 'true' (string) or 1 refuses even with a full scope", () => {
    for (const v of ['true', 1]) {
      const d = authorize(grantee(ALL, { clinical: { patients: { view: v } } }), 'Patient', 'read');
      expect(d.allowed, String(v)).to.equal(false);
    }
  });

  it('malformed scopes grant nothing', () => {
    for (const scope of ['user/Patient.sr', 'user/Patient.rr', 'admin/Patient.read', 'user/patient.rs', 'user/Patient.read?name=x', 'USER/*.cruds']) {
      const d = authorize(grantee(scope, defaultRoles()['clinic-admin']), 'Patient', 'read');
      expect(d.allowed, scope).to.equal(false);
    }
  });

  it('no scopes at all grant nothing, whatever the role', () => {
    const d = authorize({ scopes: [], rolePermissions: defaultRoles()['clinic-admin'] }, 'Patient', 'read');
    expect(d.allowed).to.equal(false);
  });

  it('an unknown or prototype-named resource type is refused without echoing it', () => {
    for (const type of ['Observation', '__proto__', 'constructor', 'Patient<script>', '']) {
      const d = authorize(grantee('system/*.cruds', defaultRoles()['clinic-admin']), type, 'read');
      expect(d.allowed, type).to.equal(false);
      expect(d.permissionKey).to.equal(null);
      expect(d.reason).to.equal('unsupported resource type');
    }
  });

  it('AuditEvent cannot be written through the API, even by clinic-admin with a full scope', () => {
    for (const i of ['create', 'update', 'patch', 'delete'] as FhirInteraction[]) {
      const d = authorize(grantee('system/*.cruds', defaultRoles()['clinic-admin']), 'AuditEvent', i);
      expect(d.allowed, i).to.equal(false);
      expect(d.permissionKey).to.equal(null);
    }
  });

  describe('patient compartment', () => {
    it('a patient/ scope confines rows to the patient in context', () => {
      const d = authorize(grantee('patient/Patient.read', ALL_PATIENTS, PATIENT_ID), 'Patient', 'search');
      expect(d.allowed).to.equal(true);
      expect(d.compartmentPatientId).to.equal(PATIENT_ID);
    });

    it('patient/ scope without a patient in context grants nothing', () => {
      for (const patientId of [undefined, '']) {
        const d = authorize({ scopes: parseScopes('patient/Patient.read').resource, rolePermissions: ALL_PATIENTS, patientId }, 'Patient', 'read');
        expect(d.allowed).to.equal(false);
        expect(d.reason).to.equal('patient scope without patient context');
        expect(d).to.not.have.property('compartmentPatientId');
      }
    });

    it('a user/ scope next to a patient/ scope removes the compartment', () => {
      const d = authorize(grantee('patient/Patient.read user/Patient.rs', ALL_PATIENTS, PATIENT_ID), 'Patient', 'read');
      expect(d.allowed).to.equal(true);
      expect(d).to.not.have.property('compartmentPatientId');
    });

    it('a user/ scope for a different verb does not lift the compartment', () => {
      const d = authorize(grantee('patient/Patient.read user/Patient.c', ALL_PATIENTS, PATIENT_ID), 'Patient', 'read');
      expect(d.compartmentPatientId).to.equal(PATIENT_ID);
    });

    it('a patient/ scope still needs the role', () => {
      const d = authorize(grantee('patient/*.read', defaultRoles()['compliance-officer'], PATIENT_ID), 'Patient', 'read');
      expect(d.allowed).to.equal(false);
      expect(d.reason).to.equal('role does not grant clinical.patients.view');
    });
  });

  describe('granular constraints', () => {
    const DOC = 'DocumentReference';
    const docs = defaultRoles().doctor;

    it('a granular scope yields its params as the only constraint', () => {
      const d = authorize(grantee(`user/${DOC}.rs?category=clinical-note&status=current`, docs), DOC, 'search');
      expect(d.allowed).to.equal(true);
      expect(d.constraints).to.deep.equal([{ category: 'clinical-note', status: 'current' }]);
    });

    it('several granular scopes are ORed', () => {
      const d = authorize(grantee(`user/${DOC}.rs?category=a user/${DOC}.s?category=b`, docs), DOC, 'search');
      expect(d.constraints).to.deep.equal([{ category: 'a' }, { category: 'b' }]);
    });

    it('granular scopes for other verbs do not constrain', () => {
      const d = authorize(grantee(`user/${DOC}.r?category=a user/${DOC}.s?category=b`, docs), DOC, 'search');
      expect(d.constraints).to.deep.equal([{ category: 'b' }]);
    });

    it('one unconstrained granting scope means no constraints', () => {
      const d = authorize(grantee(`user/${DOC}.rs?category=a user/*.rs`, docs), DOC, 'search');
      expect(d.allowed).to.equal(true);
      expect(d).to.not.have.property('constraints');
    });

    it('an unconstrained patient/ scope does not widen a granular user/ scope to the whole clinic', () => {
      const d = authorize(grantee(`patient/${DOC}.rs user/${DOC}.rs?category=a`, docs, PATIENT_ID), DOC, 'search');
      expect(d.allowed).to.equal(true);
      expect(d.constraints).to.deep.equal([{ category: 'a' }]);
      expect(d).to.not.have.property('compartmentPatientId');
    });

    it('granular patient/ scopes keep both the compartment and the constraints', () => {
      const d = authorize(grantee(`patient/${DOC}.rs?category=a`, docs, PATIENT_ID), DOC, 'read');
      expect(d.compartmentPatientId).to.equal(PATIENT_ID);
      expect(d.constraints).to.deep.equal([{ category: 'a' }]);
    });
  });
});

describe('default roles', () => {
  // The expected table, written out from ARCHITECTURE.md and the role brief (not derived from the code).
  // Letters: v=view s=search c=create u=update d=delete.
  const TABLE: Record<string, Record<string, string>> = {
    'clinic-admin': { Patient: 'vscud', Appointment: 'vscud', MedicationRequest: 'vscud', DocumentReference: 'vscud', AuditEvent: 'vs' },
    doctor: { Patient: 'vscud', Appointment: 'vscud', MedicationRequest: 'vscu', DocumentReference: 'vscud', AuditEvent: '' },
    nurse: { Patient: 'vsu', Appointment: 'vscud', MedicationRequest: 'vs', DocumentReference: 'vsc', AuditEvent: '' },
    'front-desk': { Patient: 'vscu', Appointment: 'vscud', MedicationRequest: '', DocumentReference: '', AuditEvent: '' },
    billing: { Patient: 'vs', Appointment: 'vs', MedicationRequest: '', DocumentReference: '', AuditEvent: '' },
    pharmacist: { Patient: 'vs', Appointment: 'vs', MedicationRequest: 'vsu', DocumentReference: '', AuditEvent: '' },
    'compliance-officer': { Patient: '', Appointment: '', MedicationRequest: '', DocumentReference: '', AuditEvent: 'vs' },
  };
  const EXTRA: Record<string, string[]> = {
    'clinic-admin': [
      'settings.roles.manage', 'settings.users.manage', 'settings.clients.manage', 'settings.clinic.manage',
      'clinical.breakGlass.request', 'clinical.careTeam.manage', 'compliance.breakGlass.review',
    ],
    doctor: ['clinical.breakGlass.request'],
    nurse: ['clinical.breakGlass.request'],
    'front-desk': ['clinical.careTeam.manage'],
    'compliance-officer': ['compliance.breakGlass.review'],
  };
  const LETTER: Record<PermissionAction, string> = { view: 'v', search: 's', create: 'c', update: 'u', delete: 'd' };
  const ACTIONS: PermissionAction[] = ['view', 'search', 'create', 'update', 'delete'];
  const INTERACTION: Record<PermissionAction, FhirInteraction> = { view: 'read', search: 'search', create: 'create', update: 'update', delete: 'delete' };

  it('every new clinic gets exactly the seven roles', () => {
    expect(Object.keys(defaultRoles()).sort()).to.deep.equal(Object.keys(TABLE).sort());
  });

  it('each role allows exactly its row of the table through authorize with a full scope', () => {
    for (const [role, row] of Object.entries(TABLE)) {
      const who = grantee('system/*.cruds', defaultRoles()[role]);
      for (const [type, letters] of Object.entries(row)) {
        for (const action of ACTIONS) {
          const allowed = authorize(who, type, INTERACTION[action]).allowed;
          expect(allowed, `${role} ${action} ${type}`).to.equal(letters.includes(LETTER[action]));
        }
      }
    }
  });

  it('settings and break-glass keys are held only by the roles that should hold them', () => {
    const special = permissionKeys().filter((k) => k.startsWith('settings.') || k.includes('.breakGlass.') || k.includes('.careTeam.'));
    expect(special).to.have.length(7);
    for (const role of Object.keys(TABLE)) {
      for (const key of special) {
        expect(grants(defaultRoles()[role], key), `${role} ${key}`).to.equal((EXTRA[role] ?? []).includes(key));
      }
    }
  });

  it('front-desk gets 403 on MedicationRequest', () => {
    const who = grantee('user/*.cruds', defaultRoles()['front-desk']);
    for (const i of ['read', 'search', 'create'] as FhirInteraction[]) {
      const d = authorize(who, 'MedicationRequest', i);
      expect(d.allowed, i).to.equal(false);
      expect(d.reason).to.match(/^role does not grant clinical\.prescriptions\./);
    }
    expect(authorize(who, 'DocumentReference', 'read').allowed).to.equal(false);
    expect(authorize(who, 'Patient', 'create').allowed).to.equal(true);
  });

  it('pharmacist can read but not create Appointment', () => {
    const who = grantee('user/*.cruds', defaultRoles().pharmacist);
    expect(authorize(who, 'Appointment', 'read').allowed).to.equal(true);
    const d = authorize(who, 'Appointment', 'create');
    expect(d.allowed).to.equal(false);
    expect(d.reason).to.equal('role does not grant scheduling.appointments.create');
  });

  it('compliance officer cannot read Patient but can search AuditEvent', () => {
    const who = grantee('user/*.cruds', defaultRoles()['compliance-officer']);
    const d = authorize(who, 'Patient', 'read');
    expect(d.allowed).to.equal(false);
    expect(d.reason).to.equal('role does not grant clinical.patients.view');
    expect(authorize(who, 'AuditEvent', 'search').allowed).to.equal(true);
  });

  it('a doctor stops a prescription by update, not delete', () => {
    const who = grantee('user/*.cruds', defaultRoles().doctor);
    expect(authorize(who, 'MedicationRequest', 'patch').allowed).to.equal(true);
    expect(authorize(who, 'MedicationRequest', 'delete').allowed).to.equal(false);
  });

  it('default roles cannot be mutated by the code that copies them into a clinic', () => {
    const tree = defaultRoles().billing as { clinical: { patients: Record<string, unknown> } };
    expect(() => {
      tree.clinical.patients.delete = true;
    }).to.throw(TypeError);
    expect(grants(defaultRoles().billing, 'clinical.patients.delete')).to.equal(false);
  });
});
