import { expect } from 'chai';
import { listProfiles, validateResource } from '../../server/fhir/validation';
import { compileProfile } from '../../server/fhir/validation/profile-elements';
import type { StoredProfile } from '../../server/fhir/validation/profile-store';
import { checkProfile } from '../../server/fhir/validation/profiles';
import { appointment, documentReference, loose, medicationRequest, only, patient, summary } from './fixtures';

function inlineProfile(type: string, elements: object[]): StoredProfile {
  const resource = { resourceType: 'StructureDefinition', id: 'test', url: 'https://example.org/test', type, differential: { element: elements } };
  return { id: 'test', url: resource.url, type, resource };
}

describe('validation: clinic profiles from fhir-profiles/', () => {
  it('lists one StructureDefinition per validated clinical type, with canonical URLs', () => {
    const profiles = listProfiles();
    expect(profiles.map((p) => [p.id, p.type]).sort()).to.deep.equal([
      ['clinic-appointment', 'Appointment'],
      ['clinic-documentreference', 'DocumentReference'],
      ['clinic-medicationrequest', 'MedicationRequest'],
      ['clinic-patient', 'Patient'],
      ['clinic-practitioner', 'Practitioner'],
    ]);
    for (const p of profiles) {
      expect(p.url).to.equal(`https://fhir.clinic.example/StructureDefinition/${p.id}`);
      expect(p.resource).to.include({ resourceType: 'StructureDefinition', id: p.id, url: p.url, type: p.type, derivation: 'constraint' });
    }
  });

  it('hands out copies, so a caller cannot change what the server enforces', () => {
    const [first] = listProfiles();
    (first.resource as Record<string, unknown>).differential = { element: [] };
    expect(listProfiles()[0].resource).to.have.nested.property('differential.element[1]');
  });

  it('applies to every resource of its type, without meta.profile (Patient.contact.relationship 1..*)', () => {
    const p = { ...patient(), contact: [{ name: { text: 'Jane Chalmers' } }] };
    const issue = only(validateResource(p, 'Patient'), 'Patient.contact[0].relationship');
    expect(issue.code).to.equal('required');
    expect(issue.diagnostics).to.contain('profile clinic-patient');
  });

  it('requires MedicationRequest.authoredOn (cardinality 1..1)', () => {
    const m = loose(medicationRequest());
    delete m.authoredOn;
    expect(only(validateResource(m, 'MedicationRequest'), 'MedicationRequest.authoredOn')).to.include({ code: 'required' });
  });

  it('requires MedicationRequest.subject to be a Patient, however the reference says so', () => {
    const withSubject = (subject: object) => ({ ...medicationRequest(), subject });
    expect(only(validateResource(withSubject({ reference: 'Group/g1' }), 'MedicationRequest'), 'MedicationRequest.subject').diagnostics).to.contain('got a reference to Group');
    expect(only(validateResource(withSubject({ identifier: { value: 'x' } }), 'MedicationRequest'), 'MedicationRequest.subject').diagnostics).to.contain('cannot be told');
    for (const subject of [{ reference: 'https://other.example/fhir/Patient/9/_history/2' }, { reference: 'urn:uuid:5f0c', type: 'Patient' }]) {
      expect(validateResource(withSubject(subject), 'MedicationRequest'), JSON.stringify(subject)).to.deep.equal([]);
    }
  });

  it('requires an Appointment to have a participant whose actor is a Patient (slice by actor type)', () => {
    const a = appointment();
    a.participant = [{ actor: { reference: 'Practitioner/d1' }, status: 'accepted' }];
    const issue = only(validateResource(a, 'Appointment'), 'Appointment.participant');
    expect(issue.code).to.equal('required');
    expect(issue.diagnostics).to.contain("slice 'patient'");
    a.participant.push({ actor: { reference: '#p' }, status: 'accepted' });
    const contained = { ...a, contained: [{ resourceType: 'Patient', id: 'p', name: [{ text: 'Walk-in' }] }] };
    expect(validateResource(contained, 'Appointment'), 'a contained patient counts').to.deep.equal([]);
  });

  it('requires DocumentReference.subject and binds uploaded content to PDF, JPEG, PNG or WebP', () => {
    const d = loose(documentReference());
    delete d.subject;
    expect(only(validateResource(d, 'DocumentReference'), 'DocumentReference.subject').code).to.equal('required');
    const html = documentReference();
    html.content[0].attachment.contentType = 'text/html';
    const issue = only(validateResource(html, 'DocumentReference'), 'DocumentReference.content[0].attachment.contentType');
    expect(issue.diagnostics).to.contain('expected one of application/pdf|image/jpeg|image/png|image/webp');
    for (const type of ['image/jpeg', 'image/png', 'image/webp']) {
      html.content[0].attachment.contentType = type;
      expect(validateResource(html, 'DocumentReference'), type).to.deep.equal([]);
    }
  });

  it('leaves content that only links elsewhere to the documents module (no inline data: no binding)', () => {
    const linked = documentReference();
    linked.content = [{ attachment: { contentType: 'application/hl7-v3+xml', url: 'https://xds.example/Binary/1' } }];
    expect(validateResource(linked, 'DocumentReference')).to.deep.equal([]);
  });

  it('does not report a fault twice when a profile restates a core rule', () => {
    const a = appointment();
    a.status = 'bogus' as 'booked';
    expect(validateResource(a, 'Appointment').filter((i) => i.expression?.[0] === 'Appointment.status'), summary(validateResource(a, 'Appointment'))).to.have.length(1);
  });

  describe('the interpreter', () => {
    const profileTypes = new Map<string, string>();

    it('enforces max, fixed[x] and pattern[x]', () => {
      const compiled = compileProfile(
        inlineProfile('Patient', [
          { id: 'Patient.name', path: 'Patient.name', max: '1' },
          { id: 'Patient.active', path: 'Patient.active', fixedBoolean: true },
          { id: 'Patient.maritalStatus', path: 'Patient.maritalStatus', patternCodeableConcept: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus' }] } },
        ]),
        new Map(),
        profileTypes,
      );
      const p = { ...patient(), name: [{ family: 'A' }, { family: 'B' }], active: false, maritalStatus: { coding: [{ system: 'http://other', code: 'M' }] } };
      const issues = checkProfile(compiled, p);
      expect(only(issues, 'Patient.name').diagnostics).to.contain('at most 1');
      expect(only(issues, 'Patient.active').diagnostics).to.contain('expected exactly true');
      expect(only(issues, 'Patient.maritalStatus').diagnostics).to.contain('pattern');
      const good = { ...patient(), active: true, maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }], text: 'married' } };
      expect(checkProfile(compiled, good)).to.deep.equal([]);
    });

    it('refuses, at load, what it cannot enforce instead of ignoring it', () => {
      const load = (elements: object[]) => () => compileProfile(inlineProfile('Patient', elements), new Map(), profileTypes);
      expect(load([{ id: 'Patient.name', path: 'Patient.name', constraint: [{ key: 'x-1' }] }])).to.throw(/'constraint' is not supported/);
      expect(load([{ id: 'Patient.gender', path: 'Patient.gender', binding: { strength: 'required', valueSet: 'https://example.org/vs' } }])).to.throw(/not in fhir-profiles/);
      expect(load([{ id: 'Patient.name', path: 'Patient.name', slicing: { discriminator: [{ type: 'value', path: 'use' }], rules: 'open' } }, { id: 'Patient.name:official', path: 'Patient.name', sliceName: 'official' }])).to.throw(/not supported/);
      expect(load([{ id: 'Observation.code', path: 'Observation.code', min: 1 }])).to.throw(/outside Patient/);
    });
  });
});
