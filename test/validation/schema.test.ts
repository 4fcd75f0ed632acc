import { expect } from 'chai';
import type { ErrorObject } from 'ajv';
import { validateResource, type ValidatedType } from '../../server/fhir/validation';
import { collapseAlternatives } from '../../server/fhir/validation/ajv-issues';
import { appointment, auditEvent, documentReference, loose, medicationRequest, only, patient, summary } from './fixtures';

describe('validation: the official R4 JSON schema', () => {
  const minimal: Array<[ValidatedType, () => object]> = [
    ['Patient', patient],
    ['Appointment', appointment],
    ['MedicationRequest', medicationRequest],
    ['DocumentReference', documentReference],
    ['AuditEvent', auditEvent],
  ];
  for (const [type, make] of minimal) {
    it(`accepts a minimal valid ${type}`, () => {
      const issues = validateResource(make(), type);
      expect(issues, summary(issues)).to.deep.equal([]);
    });
  }

  it('names Patient.gender and the allowed codes when the gender is not a code', () => {
    const issues = validateResource({ ...patient(), gender: 'x' }, 'Patient');
    expect(issues).to.deep.equal([
      { severity: 'error', code: 'value', diagnostics: 'Patient.gender: expected one of male|female|other|unknown, got "x"', expression: ['Patient.gender'] },
    ]);
  });

  it('refuses codes outside required bindings the schema forgot to enumerate (MedicationRequest.status)', () => {
    const issues = validateResource({ ...medicationRequest(), status: 'bogus', intent: 'order' }, 'MedicationRequest');
    expect(only(issues, 'MedicationRequest.status').diagnostics).to.contain('expected one of active|on-hold|');
    const timing = { ...medicationRequest(), dosageInstruction: [{ timing: { repeat: { dayOfWeek: ['mon', 'someday'] } } }] };
    expect(only(validateResource(timing, 'MedicationRequest'), 'MedicationRequest.dosageInstruction[0].timing.repeat.dayOfWeek[1]').code).to.equal('value');
  });

  it('reports an unknown element at its own path, however deep', () => {
    const p = loose(patient());
    p.colour = 'blue';
    (p.name as Array<Record<string, unknown>>)[0].nickname = 'Pete';
    const issues = validateResource(p, 'Patient');
    expect(only(issues, 'Patient.colour')).to.include({ code: 'structure', diagnostics: "Patient.colour: unknown element 'colour'" });
    expect(only(issues, 'Patient.name[0].nickname').code).to.equal('structure');
  });

  it('reports a wrong JSON type with what was expected', () => {
    const issues = validateResource({ ...patient(), active: 'yes' }, 'Patient');
    expect(only(issues, 'Patient.active')).to.include({ code: 'structure', diagnostics: 'Patient.active: expected a JSON boolean, got "yes"' });
  });

  it('explains a badly formatted date by the expected shape', () => {
    const issues = validateResource({ ...patient(), birthDate: '25/12/1974' }, 'Patient');
    const birth = only(issues, 'Patient.birthDate');
    expect(birth.code).to.equal('value');
    expect(birth.diagnostics).to.contain('expected a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)');
  });

  it('reports a missing required complex element (Appointment.participant)', () => {
    const a = loose(appointment());
    delete a.participant;
    const issues = validateResource(a, 'Appointment');
    expect(only(issues, 'Appointment.participant')).to.include({ code: 'required' });
  });

  it('reports missing required primitives the schema leaves out (status, intent, recorded)', () => {
    const m = loose(medicationRequest());
    delete m.status;
    delete m.intent;
    const issues = validateResource(m, 'MedicationRequest');
    expect(only(issues, 'MedicationRequest.status').code).to.equal('required');
    expect(only(issues, 'MedicationRequest.intent').code).to.equal('required');
    const e = loose(auditEvent());
    delete e.recorded;
    expect(only(validateResource(e, 'AuditEvent'), 'AuditEvent.recorded').code).to.equal('required');
  });

  it('accepts a required primitive given only as an extension (_status)', () => {
    const m = loose(medicationRequest());
    delete m.status;
    m._status = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };
    expect(validateResource(m, 'MedicationRequest')).to.deep.equal([]);
  });

  it('holds integers to FHIR integer, positiveInt and unsignedInt ranges', () => {
    const issues = validateResource({ ...patient(), multipleBirthInteger: 1.5, telecom: [{ system: 'phone', value: '555', rank: 0 }] }, 'Patient');
    expect(only(issues, 'Patient.multipleBirthInteger').diagnostics).to.contain('expected a JSON integer');
    expect(only(issues, 'Patient.telecom[0].rank').diagnostics).to.contain('>= 1');
  });

  it('refuses a body of the wrong resourceType with code invalid at the expected type', () => {
    const issues = validateResource(appointment(), 'Patient');
    expect(issues).to.deep.equal([
      { severity: 'error', code: 'invalid', diagnostics: 'Patient: expected resourceType "Patient", got "Appointment"', expression: ['Patient'] },
    ]);
  });

  for (const body of [null, 'Patient', 42, [patient()]]) {
    it(`refuses a non-object body (${JSON.stringify(body)?.slice(0, 20)})`, () => {
      const issues = validateResource(body, 'Patient');
      expect(issues).to.have.length(1);
      expect(issues[0]).to.include({ code: 'invalid' });
    });
  }

  it('never echoes a long value in full', () => {
    const issues = validateResource({ ...patient(), gender: 'x'.repeat(5000) }, 'Patient');
    expect(only(issues, 'Patient.gender').diagnostics).to.have.length.below(200);
  });

  it('accepts nulls that keep a primitive array aligned with its _x twin, and only those', () => {
    const ext = { extension: [{ url: 'http://example.org/initial', valueBoolean: true }] };
    const aligned = { ...patient(), name: [{ family: 'Chalmers', given: [null, 'James'], _given: [ext, null] }] };
    expect(validateResource(aligned, 'Patient'), 'aligned').to.deep.equal([]);
    const stray = { ...patient(), name: [{ family: 'Chalmers', given: [null, 'James'] }] };
    expect(only(validateResource(stray, 'Patient'), 'Patient.name[0].given[0]').code).to.equal('structure');
  });

  it('collapses a oneOf to the errors of its closest branch', () => {
    const err = (schemaPath: string, keyword = 'type'): ErrorObject => ({ instancePath: '/x', schemaPath, keyword, params: {} });
    const errors = [err('#/oneOf/0/type'), err('#/oneOf/0/required'), err('#/oneOf/1/enum'), err('#/oneOf', 'oneOf')];
    expect(collapseAlternatives(errors).map((e) => e.schemaPath)).to.deep.equal(['#/oneOf/1/enum']);
  });
});
