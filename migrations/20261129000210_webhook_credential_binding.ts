import type { Knex } from 'knex';

/**
 * Binds an inbox event to the credential that verified it. An event that arrived on a company's
 * own endpoint carries that credential's company in `credential_company_id`; the worker applies it
 * in that company only, and an event whose body routes elsewhere stays unroutable (counted as a
 * cross-tenant attempt). Events verified by the platform-wide Retell keys have no binding and are
 * routed by agent or number as before.
 *
 * No foreign key to provider_credentials: webhook_events is a platform table, and a platform table
 * must not reference a tenant table. The company reference cascades like resolved_company_id.
 */
const RUNTIME_ROLE = 'app_runtime';
const PLATFORM_ROLE = 'app_platform';

const INGEST_BOUND =
  'webhook_ingest_bound(text, text, text, text, jsonb, jsonb, text, text, uuid, uuid)';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table webhook_events
      add column credential_id uuid,
      add column credential_company_id uuid references companies (id) on delete cascade,
      add constraint webhook_events_credential_binding
        check ((credential_id is null) = (credential_company_id is null))`);
  // The index of the foreign key (a company's deletion cascades through it).
  await knex.raw(
    'create index webhook_events_credential_company_idx on webhook_events (credential_company_id)',
  );

  // webhook_ingest with the verifying credential and its company recorded on the event.
  await knex.raw(`
    create function webhook_ingest_bound(
      p_provider text, p_event_type text, p_dedupe_key text, p_payload_raw text, p_payload jsonb,
      p_headers jsonb, p_source_ip text, p_request_id text, p_credential_id uuid,
      p_credential_company uuid)
    returns table (id uuid, inserted boolean)
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    declare
      v_id uuid;
    begin
      if p_credential_id is null or p_credential_company is null then
        raise exception 'webhook_ingest_bound needs a credential and its company';
      end if;
      insert into webhook_events as e
        (provider, event_type, dedupe_key, payload_raw, payload, headers, source_ip, request_id,
         credential_id, credential_company_id)
      values (p_provider, p_event_type, p_dedupe_key, p_payload_raw, p_payload, coalesce(p_headers, '{}'),
              p_source_ip, p_request_id, p_credential_id, p_credential_company)
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
  await knex.raw(`alter function ${INGEST_BOUND} owner to ${PLATFORM_ROLE}`);
  await knex.raw(`revoke all on function ${INGEST_BOUND} from public`);
  await knex.raw(`grant execute on function ${INGEST_BOUND} to ${RUNTIME_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function ${INGEST_BOUND}`);
  await knex.raw(`
    alter table webhook_events
      drop constraint webhook_events_credential_binding,
      drop column credential_company_id,
      drop column credential_id`);
}
