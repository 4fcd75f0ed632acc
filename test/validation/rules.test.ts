import { expect } from 'chai';
import { validateResource } from '../../server/fhir/validation';
import { certainlyAfter, temporalProblem } from '../../server/fhir/validation/datetime';
import { appointment, auditEvent, documentReference, loose, medicationRequest, only, patient, summary } from './fixtures';

describe('validation: rules the JSON schema cannot express', () => {
  describe('impossible dates and times, anywhere in the resource', () => {
    it('refuses 2023-02-30 as a birthDate, saying why', () => {
      const issue = only(validateResource({ ...patient(), birthDate: '2023-02-30' }, 'Patient'), 'Patient.birthDate');
      expect(issue.code).to.equal('value');
      expect(issue.diagnostics).to.contain('2023-02 has no day 30');
    });

    it('accepts 29 February in a leap year and refuses it otherwise', () => {
      expect(validateResource({ ...patient(), birthDate: '2024-02-29' }, 'Patient')).to.deep.equal([]);
      expect(only(validateResource({ ...patient(), birthDate: '2023-02-29' }, 'Patient'), 'Patient.birthDate').code).to.equal('value');
    });

    it('refuses month 13 and a 24:00:00 time in a dateTime choice variant', () => {
      expect(only(validateResource({ ...patient(), birthDate: '2023-13' }, 'Patient'), 'Patient.birthDate').diagnostics).to.contain('month 13');
      const issues = validateResource({ ...patient(), deceasedDateTime: '2023-01-01T24:00:00Z' }, 'Patient');
      expect(only(issues, 'Patient.deceasedDateTime').diagnostics).to.contain('hour 24');
    });

    it('refuses an impossible instant (AuditEvent.recorded) and an impossible time zone', () => {
      const e = auditEvent();
      e.recorded = '2023-04-31T10:00:00Z';
      expect(only(validateResource(e, 'AuditEvent'), 'AuditEvent.recorded').diagnostics).to.contain('2023-04 has no day 31');
      e.recorded = '2023-04-30T10:00:00+15:00';
      expect(only(validateResource(e, 'AuditEvent'), 'AuditEvent.recorded').code).to.equal('value');
    });

    it('finds impossible dates deep inside periods, extensions and timings', () => {
      const a = { ...appointment(), requestedPeriod: [{ start: '2024-06-31' }] };
      expect(only(validateResource(a, 'Appointment'), 'Appointment.requestedPeriod[0].start').code).to.equal('value');
      const p = { ...patient(), extension: [{ url: 'http://example.org/seen', valueDate: '2023-02-30' }] };
      expect(only(validateResource(p, 'Patient'), 'Patient.extension[0].valueDate').code).to.equal('value');
      const m = { ...medicationRequest(), dosageInstruction: [{ timing: { repeat: { timeOfDay: ['08:00:00', '24:00:00'] } } }] };
      expect(only(validateResource(m, 'MedicationRequest'), 'MedicationRequest.dosageInstruction[0].timing.repeat.timeOfDay[1]').code).to.equal('value');
    });

    it('knows the calendar (unit)', () => {
      expect(temporalProblem('date', '2000-02-29')).to.equal(undefined);
      expect(temporalProblem('date', '1900-02-29')).to.contain('no day 29');
      expect(temporalProblem('dateTime', '2023-06-01T12:60:00Z')).to.contain('minute 60');
      expect(temporalProblem('instant', '2023-06-01')).to.contain('an instant needs');
      expect(temporalProblem('time', '23:59:60')).to.contain('second 60');
      expect(certainlyAfter('2020-01-02', '2020-01-01')).to.equal(true);
      expect(certainlyAfter('2020', '2020-06-01'), 'overlapping precisions').to.equal(false);
      expect(certainlyAfter('2020-01-01T23:00:00-05:00', '2020-01-02T01:00:00Z'), 'same instant order across zones').to.equal(true);
      expect(certainlyAfter('2020-01-02T01:00:00+14:00', '2020-01-01'), 'zoned vs local date').to.equal(false);
    });
  });

  describe('choice elements', () => {
    it('refuses deceasedBoolean together with deceasedDateTime', () => {
      const issue = only(validateResource({ ...patient(), deceasedBoolean: true, deceasedDateTime: '2020-01-01' }, 'Patient'), 'Patient.deceased');
      expect(issue.code).to.equal('structure');
      expect(issue.diagnostics).to.contain('deceasedBoolean and deceasedDateTime');
    });

    it('refuses two variants of multipleBirth, medication and reported', () => {
      expect(only(validateResource({ ...patient(), multipleBirthBoolean: true, multipleBirthInteger: 2 }, 'Patient'), 'Patient.multipleBirth').code).to.equal('structure');
      const m = { ...medicationRequest(), medicationReference: { reference: 'Medication/m1' }, reportedBoolean: true, reportedReference: { reference: 'Practitioner/d1' } };
      const issues = validateResource(m, 'MedicationRequest');
      expect(only(issues, 'MedicationRequest.medication').code).to.equal('structure');
      expect(only(issues, 'MedicationRequest.reported').code).to.equal('structure');
    });

    it('requires medication[x] on a MedicationRequest', () => {
      const m = loose(medicationRequest());
      delete m.medicationCodeableConcept;
      const issue = only(validateResource(m, 'MedicationRequest'), 'MedicationRequest.medication');
      expect(issue.code).to.equal('required');
      expect(issue.diagnostics).to.contain('medicationCodeableConcept, medicationReference');
    });

    it('does not mistake two list elements for a choice (reasonCode with reasonReference)', () => {
      const m = { ...medicationRequest(), reasonCode: [{ text: 'otitis' }], reasonReference: [{ reference: 'Condition/c1' }] };
      expect(validateResource(m, 'MedicationRequest')).to.deep.equal([]);
    });
  });

  describe('R4 invariants', () => {
    it('pat-1: a contact needs a name, telecom, address or organization', () => {
      const p = { ...patient(), contact: [{ relationship: [{ text: 'mother' }] }] };
      const issue = only(validateResource(p, 'Patient'), 'Patient.contact[0]');
      expect(issue).to.include({ code: 'invariant' });
      expect(issue.diagnostics).to.contain('(pat-1)');
      expect(validateResource({ ...p, contact: [{ relationship: [{ text: 'mother' }], name: { text: 'Jane' } }] }, 'Patient')).to.deep.equal([]);
    });

    it('app-2: start and end come together', () => {
      const a = loose(appointment());
      delete a.end;
      expect(summary(validateResource(a, 'Appointment'))).to.contain('(app-2)');
    });

    it('app-3: only proposed, cancelled or waitlist appointments may lack start and end', () => {
      const a = loose(appointment());
      delete a.start;
      delete a.end;
      expect(only(validateResource(a, 'Appointment'), 'Appointment').diagnostics).to.contain('(app-3)');
      for (const status of ['proposed', 'cancelled', 'waitlist']) {
        expect(validateResource({ ...a, status }, 'Appointment'), status).to.deep.equal([]);
      }
    });

    it('app-4: a cancelation reason only on cancelled or no-show appointments', () => {
      const a = { ...appointment(), cancelationReason: { text: 'patient ill' } };
      expect(only(validateResource(a, 'Appointment'), 'Appointment.cancelationReason').diagnostics).to.contain('(app-4)');
      expect(validateResource({ ...a, status: 'cancelled' }, 'Appointment')).to.deep.equal([]);
      expect(validateResource({ ...a, status: 'noshow' }, 'Appointment')).to.deep.equal([]);
    });

    it('an appointment starts before it ends (clinic rule)', () => {
      const backwards = { ...appointment(), start: '2024-03-01T10:00:00Z', end: '2024-03-01T09:00:00Z' };
      expect(only(validateResource(backwards, 'Appointment'), 'Appointment.end').diagnostics).to.contain('(clinic-app-1)');
      const empty = { ...appointment(), start: '2024-03-01T10:00:00+01:00', end: '2024-03-01T09:00:00Z' };
      expect(only(validateResource(empty, 'Appointment'), 'Appointment.end').code, 'same instant').to.equal('invariant');
    });

    it('app-1: a participant names a type or an actor', () => {
      const a = appointment();
      a.participant.push({ status: 'needs-action' });
      expect(only(validateResource(a, 'Appointment'), 'Appointment.participant[2]').diagnostics).to.contain('(app-1)');
    });

    it('per-1: a Period never ends before it starts, wherever it is', () => {
      const p = { ...patient(), name: [{ family: 'Chalmers', period: { start: '2020-01-02', end: '2020-01-01' } }] };
      expect(only(validateResource(p, 'Patient'), 'Patient.name[0].period').diagnostics).to.contain('(per-1)');
      const a = { ...appointment(), requestedPeriod: [{ start: '2024-03-02T00:00:00Z', end: '2024-03-01T00:00:00Z' }] };
      expect(only(validateResource(a, 'Appointment'), 'Appointment.requestedPeriod[0]').code).to.equal('invariant');
      const partial = { ...patient(), name: [{ family: 'Chalmers', period: { start: '2020', end: '2020-06-01' } }] };
      expect(validateResource(partial, 'Patient'), 'overlapping precisions are not a violation').to.deep.equal([]);
    });

    it('ext-1, cpt-2, att-1, sev-1 and tim-1 hold on data types and backbone elements', () => {
      const p = { ...patient(), extension: [{ url: 'http://example.org/x' }], telecom: [{ value: '555-1234' }], photo: [{ data: 'AAAA' }] };
      const issues = validateResource(p, 'Patient');
      expect(only(issues, 'Patient.extension[0]').diagnostics).to.contain('(ext-1)');
      expect(only(issues, 'Patient.telecom[0]').diagnostics).to.contain('(cpt-2)');
      expect(only(issues, 'Patient.photo[0]').diagnostics).to.contain('(att-1)');
      const e = auditEvent();
      e.entity = [{ name: 'search', query: 'bmFtZT1qb2U=' }];
      expect(only(validateResource(e, 'AuditEvent'), 'AuditEvent.entity[0]').diagnostics).to.contain('(sev-1)');
      const m = { ...medicationRequest(), dosageInstruction: [{ timing: { repeat: { duration: 5 } } }] };
      expect(only(validateResource(m, 'MedicationRequest'), 'MedicationRequest.dosageInstruction[0].timing.repeat').diagnostics).to.contain('(tim-1)');
    });
  });

  describe('ele-1: every element has a value or children', () => {
    it('refuses an empty string, once, as ele-1', () => {
      const issues = validateResource({ ...patient(), name: [{ family: '' }] }, 'Patient');
      expect(only(issues, 'Patient.name[0].family')).to.include({ code: 'invariant' });
    });

    it('refuses empty objects, empty arrays and elements that hold only an id', () => {
      const p = { ...patient(), address: [{}], telecom: [], maritalStatus: { id: 'm1' } };
      const issues = validateResource(p, 'Patient');
      expect(only(issues, 'Patient.address[0]').diagnostics).to.contain('empty object');
      expect(only(issues, 'Patient.telecom').diagnostics).to.contain('empty array');
      expect(only(issues, 'Patient.maritalStatus').diagnostics).to.contain('only an id');
    });

    it('refuses an empty uri, which the schema pattern lets through', () => {
      const issues = validateResource({ ...patient(), identifier: [{ system: '', value: 'MRN-1' }] }, 'Patient');
      expect(only(issues, 'Patient.identifier[0].system').code).to.equal('invariant');
    });
  });

  describe('contained resources', () => {
    const withContained = (contained: unknown[], ref = '#med'): Record<string, unknown> => {
      const m = loose(medicationRequest());
      delete m.medicationCodeableConcept;
      return { ...m, medicationReference: { reference: ref }, contained };
    };

    it('validates a contained resource by its own type, with paths under contained[i]', () => {
      const m = withContained([{ resourceType: 'Medication', id: 'med', code: { text: 'amoxicillin' }, form: 'tablet', strength: 1 }]);
      const issues = validateResource(m, 'MedicationRequest');
      expect(only(issues, 'MedicationRequest.contained[0].form').code).to.equal('structure');
      expect(only(issues, 'MedicationRequest.contained[0].strength').code).to.equal('structure');
      expect(validateResource(withContained([{ resourceType: 'Medication', id: 'med', code: { text: 'amoxicillin' } }]), 'MedicationRequest')).to.deep.equal([]);
    });

    it('dom-2, dom-3, dom-4 and dom-5 hold for contained resources', () => {
      const m = withContained([
        { resourceType: 'Medication', id: 'med', meta: { versionId: '2', security: [{ code: 'R' }] }, contained: [{ resourceType: 'Substance', id: 's', code: { text: 'x' } }] },
        { resourceType: 'Organization', id: 'orphan', name: 'Acme' },
      ]);
      const text = summary(validateResource(m, 'MedicationRequest'));
      for (const key of ['dom-2', 'dom-3', 'dom-4', 'dom-5']) expect(text).to.contain(`(${key})`);
    });

    it('ref-1: a local reference must name a contained resource', () => {
      const issues = validateResource(withContained([{ resourceType: 'Medication', id: 'med', code: { text: 'x' } }], '#nope'), 'MedicationRequest');
      expect(only(issues, 'MedicationRequest.medicationReference.reference').diagnostics).to.contain('(ref-1)');
    });

    it('refuses a contained item that is not a known resource', () => {
      const issues = validateResource(withContained([{ resourceType: 'Medication', id: 'med', code: { text: 'x' } }, { resourceType: 'Spaceship', id: 'x' }]), 'MedicationRequest');
      expect(only(issues, 'MedicationRequest.contained[1]').code).to.equal('invalid');
    });

    it('accepts a contained resource that refers back to its container with "#"', () => {
      const d = { ...documentReference(), contained: [{ resourceType: 'Provenance', target: [{ reference: '#' }], recorded: '2024-03-01T09:00:00Z', agent: [{ who: { display: 'Dr X' } }] }] };
      expect(validateResource(d, 'DocumentReference'), summary(validateResource(d, 'DocumentReference'))).to.deep.equal([]);
    });
  });
});
