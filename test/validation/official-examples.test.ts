// Every official HL7 R4 example of the validated types must pass: they are imported by other tests,
// and a validator that refuses the spec's own examples is refusing real-world data.
import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateResource, VALIDATED_TYPES, type ValidatedType } from '../../server/fhir/validation';
import { compileProfile } from '../../server/fhir/validation/profile-elements';
import { checkProfile } from '../../server/fhir/validation/profiles';
import { EXAMPLES_DIR, readJson } from './core-definitions';
import { summary } from './fixtures';

/** Examples we must skip, with the precise reason. None today: keep it that way if you can. */
const EXCLUDED: Record<string, string> = {};

const EXPECTED_COUNTS: Record<ValidatedType, number> = { Patient: 22, Appointment: 3, MedicationRequest: 40, DocumentReference: 1, AuditEvent: 9 };

function examplesOf(type: ValidatedType): string[] {
  return readdirSync(EXAMPLES_DIR).filter((f) => f.startsWith(`${type}-`) && f.endsWith('.json'));
}

function rejectedBy(type: ValidatedType, elements: object[]): string[] {
  const stored = { id: 'strict', url: 'https://example.org/strict', type, resource: { differential: { element: elements } } };
  const valueSets = new Map([['https://example.org/docs', ['application/pdf', 'image/jpeg', 'image/png', 'image/webp'].map((code) => ({ code }))]]);
  const strict = compileProfile(stored, valueSets, new Map());
  return examplesOf(type).filter((f) => checkProfile(strict, readJson(join(EXAMPLES_DIR, f)) as Record<string, unknown>).length > 0);
}

describe('validation: the official HL7 R4 examples (hl7.fhir.r4.examples 4.0.1)', () => {
  it('exclusions name real files', () => {
    for (const file of Object.keys(EXCLUDED)) expect(existsSync(join(EXAMPLES_DIR, file)), file).to.equal(true);
  });

  for (const type of VALIDATED_TYPES) {
    describe(type, () => {
      it(`finds all ${EXPECTED_COUNTS[type]} examples`, () => {
        expect(examplesOf(type)).to.have.length(EXPECTED_COUNTS[type]);
      });
      for (const file of examplesOf(type).filter((f) => !EXCLUDED[f])) {
        it(`${file} is valid`, () => {
          const issues = validateResource(readJson(join(EXAMPLES_DIR, file)), type);
          expect(issues, summary(issues)).to.deep.equal([]);
        });
      }
    });
  }

  describe('why the clinic profiles are looser than first designed', () => {
    it('Patient name 1..*, gender 1..1, birthDate 1..1 would refuse 7 of the 22 official patients', () => {
      const strict = ['name', 'gender', 'birthDate'].map((e) => ({ id: `Patient.${e}`, path: `Patient.${e}`, min: 1 }));
      expect(rejectedBy('Patient', strict)).to.deep.equal([
        'Patient-dicom.json', 'Patient-ihe-pcd.json', 'Patient-infant-fetal.json', 'Patient-newborn.json', 'Patient-pat1.json', 'Patient-pat2.json', 'Patient-proband.json',
      ]);
    });

    it('a required contentType binding on every attachment would refuse the only official DocumentReference (a CDA by URL)', () => {
      const binding = { strength: 'required', valueSet: 'https://example.org/docs' };
      const strict = [{ id: 'DocumentReference.content.attachment.contentType', path: 'DocumentReference.content.attachment.contentType', binding }];
      expect(rejectedBy('DocumentReference', strict)).to.deep.equal(['DocumentReference-example.json']);
    });
  });
});
