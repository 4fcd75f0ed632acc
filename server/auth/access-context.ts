import type { ParsedScope } from './scopes';

/** Who is asking, as established by a verified token. Built by auth/, consumed everywhere after. */
export interface AccessContext {
  userId: string;
  clinicId: string;
  /** Patient in context (SMART `patient` claim). */
  patientId?: string;
  clientId?: string;
  fhirUser?: string;
  tokenId?: string;
  /** One of our own tokens: withClinic checks its `tokenId` against revocations in its first statement. */
  revocable?: boolean;
  scopes: readonly ParsedScope[];
  scopeText: string;
}

/** The acting user's role at the clinic, read in the same round trip that opens the transaction. */
export interface Membership {
  role: string;
  permissions: unknown;
  /** The database's stamp of the role (name and tree): a cached membership is checked against it (migration 029). */
  stamp?: string;
  /** The user's active break-glass grants at this clinic (migration 032); every access under one is audited BTG. */
  grants?: ActiveGrant[] | null;
}

/** A break-glass grant in force for the acting user: its id, its patient, and whether it was used yet. */
export interface ActiveGrant { id: string; patient: string; used: boolean }
