import type { Knex } from 'knex';

/**
 * For a claimed webhook event routed to a suspended company: puts the event back, stored and
 * unapplied, without counting the attempt. It waits until the company is reactivated
 * (platform_set_company_suspended releases it) and is then applied as usual. Returns false when
 * the company is active. `platform` is the platform handle: lifecycle_defer_webhook_event is a
 * platform function.
 */
export async function deferForSuspendedCompany(
  platform: Knex,
  eventId: string,
  workerId: string,
  companyId: string,
): Promise<boolean> {
  const { rows } = (await platform.raw(
    'select lifecycle_defer_webhook_event(?, ?, ?) as deferred',
    [eventId, workerId, companyId],
  )) as { rows: { deferred: boolean }[] };
  return rows[0]?.deferred === true;
}
