import { expect } from 'chai';
import { RESOURCE_DEFINITIONS } from '../../server/fhir/resources';
import { api } from '../helpers/server';

type SearchParam = { name: string; type: string };
type RestResource = { type: string; interaction: Array<{ code: string }>; searchParam: SearchParam[]; supportedProfile?: string[] };

describe('CapabilityStatement lists every served type from its definition', () => {
  let resources: RestResource[];
  before(async () => {
    const res = await (await api()).get('/fhir/metadata');
    expect(res.status).to.equal(200);
    resources = JSON.parse(res.text).rest[0].resource;
  });

  it('names exactly the six types we serve', () => {
    expect(resources.map((r) => r.type).sort()).to.deep.equal(['Appointment', 'AuditEvent', 'DocumentReference', 'MedicationRequest', 'Patient', 'Practitioner']);
  });

  for (const [type, params] of Object.entries({
    Appointment: ['identifier', 'patient', 'actor', 'practitioner', 'date', 'status', 'service-type', 'appointment-type'],
    MedicationRequest: ['identifier', 'patient', 'subject', 'status', 'intent', 'authoredon', 'code', 'medication', 'requester', 'encounter'],
    DocumentReference: ['identifier', 'patient', 'subject', 'type', 'category', 'date', 'status', 'author', 'contenttype', 'period'],
    Practitioner: ['identifier', 'name', 'family', 'given', 'active'],
  })) {
    it(`${type} lists _id and its search parameters with their types, its profile and write interactions`, () => {
      const entry = resources.find((r) => r.type === type);
      expect(entry, type).to.exist;
      const listed = new Map(entry?.searchParam.map((p) => [p.name, p.type]));
      expect([...listed.keys()]).to.include.members(['_id', ...params]);
      const def = RESOURCE_DEFINITIONS.find((d) => d.type === type);
      for (const p of def?.search ?? []) expect(listed.get(p.name), `${type}.${p.name}`).to.equal(p.type);
      expect(entry?.supportedProfile).to.deep.equal([def?.profile]);
      expect(entry?.interaction.map((i) => i.code)).to.include.members(['read', 'vread', 'create', 'update', 'delete', 'search-type', 'history-instance']);
    });
  }
});
