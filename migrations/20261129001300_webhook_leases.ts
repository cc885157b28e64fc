import type { Knex } from 'knex';

/**
 * Webhook worker leases that stay short: a worker extends the leases of the events it is still
 * applying (a heartbeat), and hands back the events it holds but will not finish (a graceful
 * shutdown, or events whose outcome could not be recorded while the database was away), so they
 * are claimed again at once instead of when the lease runs out. A handed-back event does not
 * count the attempt: the event did not fail. Both act only on rows still claimed by the calling
 * worker. SECURITY DEFINER, owned by app_platform, executable by app_platform_client only.
 * Self-contained: no helper of src/ is imported.
 */
const RUNTIME = 'app_runtime';
const PLATFORM = 'app_platform';
const PLATFORM_CLIENT = 'app_platform_client';

const FUNCTIONS = ['webhook_extend_leases(text, uuid[], integer)', 'webhook_release(text, uuid[])'];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function webhook_extend_leases(p_worker text, p_ids uuid[], p_lease_ms integer)
    returns integer
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with extended as (
        update webhook_events
           set locked_until = now() + make_interval(secs => greatest(p_lease_ms, 1000) / 1000.0),
               next_attempt_at = now() + make_interval(secs => greatest(p_lease_ms, 1000) / 1000.0)
         where id = any(p_ids) and status = 'processing' and locked_by = p_worker
        returning 1)
      select count(*)::integer from extended
    $$`);

  await knex.raw(`
    create function webhook_release(p_worker text, p_ids uuid[])
    returns integer
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with released as (
        update webhook_events
           set status = case when attempts > 1 then 'failed' else 'pending' end,
               attempts = greatest(attempts - 1, 0),
               next_attempt_at = now(),
               locked_by = null,
               locked_until = null
         where id = any(p_ids) and status = 'processing' and locked_by = p_worker
        returning 1)
      select count(*)::integer from released
    $$`);

  for (const fn of FUNCTIONS) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM}`);
    await knex.raw(`revoke all on function ${fn} from public`);
    await knex.raw(`revoke all on function ${fn} from ${RUNTIME}`);
    await knex.raw(`grant execute on function ${fn} to ${PLATFORM_CLIENT}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const fn of FUNCTIONS) await knex.raw(`drop function ${fn}`);
}
