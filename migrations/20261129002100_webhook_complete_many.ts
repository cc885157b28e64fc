import type { Knex } from 'knex';

/**
 * Completes many claimed webhook events in one statement: the worker applies a company's group of
 * events in one transaction and records all their outcomes with it. Like webhook_complete it acts
 * only on events still claimed by the calling worker, and raises (P0002, "no longer claimed") when
 * any of them is not, which rolls the group's effects back with it. SECURITY DEFINER, owned by
 * app_platform, executable by app_platform_client only. Self-contained: no helper of src/ is
 * imported.
 */
const RUNTIME = 'app_runtime';
const PLATFORM = 'app_platform';
const PLATFORM_CLIENT = 'app_platform_client';

const FN = 'webhook_complete_many(uuid[], text, text[], uuid, text[])';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function webhook_complete_many(
      p_ids uuid[], p_worker text, p_statuses text[], p_company uuid, p_errors text[])
    returns integer
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    declare
      n integer;
    begin
      if cardinality(p_ids) <> cardinality(p_statuses)
         or cardinality(p_ids) <> cardinality(p_errors) then
        raise exception 'webhook_complete_many: ids, statuses and errors differ in length';
      end if;
      if exists (select 1 from unnest(p_statuses) s
                  where s is null or s not in ('processed','ignored','unroutable','dead')) then
        raise exception 'webhook_complete_many: not a final status';
      end if;
      update webhook_events e
         set status = u.status,
             resolved_company_id = coalesce(p_company, e.resolved_company_id),
             last_error = u.error,
             processed_at = now(),
             locked_by = null,
             locked_until = null
        from unnest(p_ids, p_statuses, p_errors) as u(id, status, error)
       where e.id = u.id and e.status = 'processing' and e.locked_by = p_worker;
      get diagnostics n = row_count;
      if n <> (select count(distinct i) from unnest(p_ids) i) then
        raise exception 'webhook events are no longer claimed by %', p_worker
          using errcode = 'P0002';
      end if;
      return n;
    end
    $$`);
  await knex.raw(`alter function ${FN} owner to ${PLATFORM}`);
  await knex.raw(`revoke all on function ${FN} from public`);
  await knex.raw(`revoke all on function ${FN} from ${RUNTIME}`);
  await knex.raw(`grant execute on function ${FN} to ${PLATFORM_CLIENT}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function ${FN}`);
}
