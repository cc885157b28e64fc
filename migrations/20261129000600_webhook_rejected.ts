import type { Knex } from 'knex';

/**
 * Rejected webhook deliveries. A delivery whose signature is valid but whose body cannot be kept as
 * JSON (not UTF-8, not JSON, an unpaired surrogate, nesting too deep, no event name, or a value
 * Postgres refuses) is stored anyway, as raw text with status `rejected` and the reason in
 * `last_error`, so the event is never lost and the provider is not asked to retry it forever.
 * Such a row has no parsed copy (`payload` is null) and is never claimed by the worker.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table webhook_events drop constraint webhook_events_status');
  await knex.raw(`
    alter table webhook_events add constraint webhook_events_status check (
      status in ('pending','processing','processed','ignored','unroutable','failed','dead','rejected'))`);
  await knex.raw('alter table webhook_events alter column payload drop not null');
  await knex.raw(`
    alter table webhook_events add constraint webhook_events_payload_present
      check (payload is not null or status = 'rejected')`);
  // How payload_raw holds the body: as text, or base64 when the bytes are not storable text
  // (invalid UTF-8, or a NUL byte).
  await knex.raw(`
    alter table webhook_events add column raw_encoding text not null default 'utf8'
      constraint webhook_events_raw_encoding check (raw_encoding in ('utf8','base64'))`);

  // Stores a rejected delivery once: a retry of the same bytes finds the first row.
  await knex.raw(`
    create function webhook_reject(
      p_provider text, p_event_type text, p_dedupe_key text, p_payload_raw text,
      p_raw_encoding text, p_reason text, p_headers jsonb, p_source_ip text, p_request_id text)
    returns table (id uuid, inserted boolean)
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    declare
      v_id uuid;
    begin
      insert into webhook_events as e
        (provider, event_type, dedupe_key, payload_raw, raw_encoding, payload, headers, source_ip,
         request_id, status, last_error, processed_at)
      values (p_provider, p_event_type, p_dedupe_key, p_payload_raw, p_raw_encoding, null,
              coalesce(p_headers, '{}'), p_source_ip, p_request_id, 'rejected',
              left(p_reason, 2000), now())
      on conflict (provider, dedupe_key) do nothing
      returning e.id into v_id;
      if v_id is not null then
        return query select v_id, true;
        return;
      end if;
      return query select w.id, false from webhook_events w
        where w.provider = p_provider and w.dedupe_key = p_dedupe_key;
    end
    $$`);
  await knex.raw(
    'alter function webhook_reject(text, text, text, text, text, text, jsonb, text, text) owner to app_platform',
  );
  await knex.raw(
    'revoke all on function webhook_reject(text, text, text, text, text, text, jsonb, text, text) from public',
  );
  await knex.raw(
    'grant execute on function webhook_reject(text, text, text, text, text, text, jsonb, text, text) to app_platform_client',
  );

  // Retention: rejected deliveries go after the same 30 days as processed and ignored ones.
  await knex.raw(`
    create or replace function webhook_purge(p_before timestamptz, p_limit integer)
    returns integer
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with gone as (
        delete from webhook_events where id in (
          select id from webhook_events
           where received_at < p_before and status in ('processed','ignored','rejected')
           order by received_at limit greatest(p_limit, 1))
        returning 1)
      select count(*)::integer from gone
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function webhook_purge(p_before timestamptz, p_limit integer)
    returns integer
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with gone as (
        delete from webhook_events where id in (
          select id from webhook_events
           where received_at < p_before and status in ('processed','ignored')
           order by received_at limit greatest(p_limit, 1))
        returning 1)
      select count(*)::integer from gone
    $$`);
  await knex.raw(
    'drop function webhook_reject(text, text, text, text, text, text, jsonb, text, text)',
  );
  await knex.raw("delete from webhook_events where status = 'rejected'");
  await knex.raw('alter table webhook_events drop column raw_encoding');
  await knex.raw('alter table webhook_events drop constraint webhook_events_payload_present');
  await knex.raw('alter table webhook_events alter column payload set not null');
  await knex.raw('alter table webhook_events drop constraint webhook_events_status');
  await knex.raw(`
    alter table webhook_events add constraint webhook_events_status check (
      status in ('pending','processing','processed','ignored','unroutable','failed','dead'))`);
}
