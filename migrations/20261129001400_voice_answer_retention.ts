import type { Knex } from 'knex';

/**
 * Retention of the voice agent's stored answers (voice_idempotency). A stored answer exists so
 * that a retry of Retell (seconds to minutes later) gets the first answer instead of acting twice;
 * its text can name the caller, their number and their appointment. retention_purge_voice_answers
 * deletes at most p_limit answers older than p_max_age_minutes (at least 60), claimed with SKIP
 * LOCKED so several servers can run the retention job side by side.
 *
 * A SECURITY DEFINER function owned by app_platform with a fixed search_path, executable by the
 * platform caller role (app_platform_client) only. Self-contained: no helper of src/ is imported.
 */
const RUNTIME = 'app_runtime';
const PLATFORM = 'app_platform';
const PLATFORM_CLIENT = 'app_platform_client';
const FN = 'retention_purge_voice_answers(integer, integer)';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'create index voice_idempotency_created_at_idx on voice_idempotency (created_at, company_id)',
  );
  // FOR UPDATE needs an UPDATE privilege on some column (app_platform already selects and
  // deletes the company's rows for offboarding).
  await knex.raw(`grant update (updated_at) on voice_idempotency to ${PLATFORM}`);
  await knex.raw(`
    create function retention_purge_voice_answers(p_limit integer, p_max_age_minutes integer)
    returns table (company_id uuid, removed integer)
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with due as (
        select v.company_id, v.id from voice_idempotency v
         where v.created_at < now() - make_interval(mins => greatest(p_max_age_minutes, 60))
         limit least(greatest(p_limit, 1), 5000)
         for update of v skip locked
      ), done as (
        delete from voice_idempotency v
         using due where v.company_id = due.company_id and v.id = due.id
        returning v.company_id
      )
      select d.company_id, count(*)::integer from done d group by d.company_id
    $$`);
  await knex.raw(`alter function ${FN} owner to ${PLATFORM}`);
  await knex.raw(`revoke all on function ${FN} from public`);
  await knex.raw(`revoke all on function ${FN} from ${RUNTIME}`);
  await knex.raw(`grant execute on function ${FN} to ${PLATFORM_CLIENT}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function ${FN}`);
  await knex.raw(`revoke update (updated_at) on voice_idempotency from ${PLATFORM}`);
  await knex.raw('drop index voice_idempotency_created_at_idx');
}
