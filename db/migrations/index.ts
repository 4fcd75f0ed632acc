import type { Knex } from 'knex';
import * as m001 from './001_roles_and_tenancy';
import * as m002 from './002_patient';
import * as m003 from './003_audit_event';
import * as m004 from './004_appointment';
import * as m005 from './005_medication_request';
import * as m006 from './006_document_reference';
import * as m007 from './007_binary';
import * as m010 from './010_oauth';
import * as m020 from './020_search_index';
import * as m021 from './021_fast_rls';
import * as m022 from './022_audit_search';
import * as m023 from './023_begin_with_revocation';
import * as m024 from './024_search_page';
import * as m025 from './025_no_clinic_row_locks';
import * as m026 from './026_audit_partitions_ahead';
import * as m027 from './027_practitioner';
import * as m028 from './028_audit_rows';
import * as m029 from './029_fast_begin';
import * as m030 from './030_scale_out';
import * as m031 from './031_audit_seal';
import * as m032 from './032_care_team';
import * as m033 from './033_patient_users';
import * as m034 from './034_bulk_export';
import * as m035 from './035_rsa_signing_key';
import * as m036 from './036_console';
import * as m037 from './037_seal_blocks';
import * as m038 from './038_export_expiry';

interface Migration { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> }

/** Ordered list of migrations; knex records each by name in knex_migrations. */
const MIGRATIONS: Array<[string, Migration]> = [
  ['001_roles_and_tenancy', m001],
  ['002_patient', m002],
  ['003_audit_event', m003],
  ['004_appointment', m004],
  ['005_medication_request', m005],
  ['006_document_reference', m006],
  ['007_binary', m007],
  ['010_oauth', m010],
  ['020_search_index', m020],
  ['021_fast_rls', m021],
  ['022_audit_search', m022],
  ['023_begin_with_revocation', m023],
  ['024_search_page', m024],
  ['025_no_clinic_row_locks', m025],
  ['026_audit_partitions_ahead', m026],
  ['027_practitioner', m027],
  ['028_audit_rows', m028],
  ['029_fast_begin', m029],
  ['030_scale_out', m030],
  ['031_audit_seal', m031],
  ['032_care_team', m032],
  ['033_patient_users', m033],
  ['034_bulk_export', m034],
  ['035_rsa_signing_key', m035],
  ['036_console', m036],
  ['037_seal_blocks', m037],
  ['038_export_expiry', m038],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: ([name]) => name,
  getMigration: async ([, m]) => m,
};
