import type { Knex } from 'knex';
import type { AuditedTx } from '../pipeline/audited';
import { computeAlerts } from './alerts';
import { query } from './html';
import type { Card } from './pages';
import { clinicStaff } from './staff';

/**
 * The overview's cards, each computed in the viewer's transaction. Screens built elsewhere add
 * theirs with `addOverviewCard` (integrity.ts: the last $verify and the seal lag; break-glass review).
 */
export type CardSource = (tx: AuditedTx, clinicId: string, since: string, db: Knex) => Promise<Card>;

const count = async (tx: AuditedTx, clinicId: string, since: string, narrow: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<string> =>
  String((await narrow(tx.trx('audit_event').where('clinic_id', clinicId).where('last_updated', '>=', since)).count({ n: '*' }).first())?.n ?? 0);

const SOURCES: CardSource[] = [
  async (tx, clinic, since) => ({ label: 'Refusals', value: await count(tx, clinic, since, (q) => q.whereNot('outcome', '0')), href: query('/console/access', { outcome: '4', from: since.slice(0, 10) }) }),
  async (tx, clinic, since) => ({ label: 'Emergency (break-glass) accesses', value: await count(tx, clinic, since, (q) => q.where('purpose_of_use', 'BTG')), href: query('/console/access', { purpose: 'BTG', from: since.slice(0, 10) }) }),
  async (tx, clinic, since, db) => ({ label: 'Open alerts', value: String((await computeAlerts(tx.trx, clinic, since, new Date(Date.now() + 60_000).toISOString(), await clinicStaff(db, clinic))).filter((a) => !a.review).length), href: '/console/alerts' }),
  async () => ({ label: 'Pending break-glass reviews', value: '—', note: 'shown once break-glass review is installed' }),
];

export function addOverviewCard(source: CardSource): void { SOURCES.push(source); }

export async function overviewCards(tx: AuditedTx, clinicId: string, since: string, db: Knex): Promise<Card[]> {
  const cards: Card[] = [];
  for (const source of SOURCES) cards.push(await source(tx, clinicId, since, db));
  return cards;
}
