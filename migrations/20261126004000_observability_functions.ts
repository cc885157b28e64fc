import type { Knex } from 'knex';
import { PLATFORM_ROLE, RUNTIME_ROLE } from './lib/v1';

/**
 * Cross-tenant figures for the Prometheus gauges, read at scrape time. Like the other platform
 * functions they are SECURITY DEFINER, owned by app_platform, with a fixed search_path; they
 * return only aggregates (never a company id or any row), and a statement timeout keeps a slow
 * scrape from holding a connection.
 */
export async function up(knex: Knex): Promise<void> {
  // Open callback requests by status and priority; "overdue" counts those past their due time.
  await knex.raw(`
    create function platform_metrics_callback_requests()
    returns table (status text, priority text, requests bigint, overdue bigint)
    language sql stable security definer
    set search_path = pg_catalog, public set statement_timeout = '2s' as $$
      select r.status, r.priority, count(*), count(*) filter (where r.due_at < now())
        from callback_requests r
       where r.status not in ('done', 'expired')
       group by r.status, r.priority
    $$`);

  // The webhook inbox by provider and status: the events that still have work (pending,
  // processing, failed) and the ones that need a person (unroutable, dead); processed and ignored
  // events only grow and are left out. The table is looked up when called, so the gauges answer
  // with no rows rather than an error on a database where the inbox does not exist.
  await knex.raw(`
    create function platform_metrics_webhook_inbox()
    returns table (provider text, status text, events bigint, oldest_age_seconds double precision)
    language plpgsql stable security definer
    set search_path = pg_catalog, public set statement_timeout = '2s' as $$
    begin
      if to_regclass('public.webhook_events') is null then
        return;
      end if;
      return query execute $q$
        select e.provider::text, e.status::text, count(*),
               extract(epoch from now() - min(e.received_at))::double precision
          from public.webhook_events e
         where e.status::text in ('pending', 'processing', 'failed', 'unroutable', 'dead')
         group by 1, 2
         order by 1, 2
         limit 200
      $q$;
    end
    $$`);

  await knex.raw(`
    create function platform_metrics_companies()
    returns table (archived boolean, companies bigint)
    language sql stable security definer
    set search_path = pg_catalog, public set statement_timeout = '2s' as $$
      select c.archived_at is not null, count(*) from companies c group by 1
    $$`);

  for (const fn of FUNCTIONS) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM_ROLE}`);
    await knex.raw(`revoke all on function ${fn} from public`);
    await knex.raw(`grant execute on function ${fn} to ${RUNTIME_ROLE}`);
  }
}

const FUNCTIONS = [
  'platform_metrics_callback_requests()',
  'platform_metrics_webhook_inbox()',
  'platform_metrics_companies()',
];

export async function down(knex: Knex): Promise<void> {
  for (const fn of [...FUNCTIONS].reverse()) await knex.raw(`drop function if exists ${fn}`);
}
