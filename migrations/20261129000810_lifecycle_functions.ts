import type { Knex } from 'knex';

/**
 * The platform operations of the company life cycle and of privacy, each a SECURITY DEFINER
 * function owned by app_platform with a fixed search_path. Like every SECURITY DEFINER function,
 * each is executable by the platform caller role (app_platform_client) only, never by app_runtime
 * or PUBLIC; the server reaches them through its platform handle, and the API decides who may
 * reach that code (super admins for the platform ones, company admins for erasure).
 * Platform audit entries go to platform_audit_log (actor_type, actor_id, action,
 * target_company_id, details, request_id, ip). The suspension check of every authenticated request
 * is folded into auth_user_access_status, so a request still costs one liveness statement.
 * Self-contained: no helper of src/ is imported.
 */
const RUNTIME = 'app_runtime';
const PLATFORM = 'app_platform';
const PLATFORM_CLIENT = 'app_platform_client';

const FUNCTIONS = [
  'platform_create_company(text, citext, text, text, text)',
  'platform_company_status(uuid)',
  'platform_set_company_suspended(uuid, boolean, uuid, text, text)',
  'platform_offboard_company(uuid, uuid, text, text)',
  'lifecycle_defer_webhook_event(uuid, text, uuid)',
  'privacy_erase_customer_traces(uuid, text[])',
  'retention_purge_transcripts(integer)',
  'retention_purge_recordings(integer)',
];

export async function up(knex: Knex): Promise<void> {
  // Offboarding deletes a company's rows in every tenant table (found in the catalogue now; a
  // table added later needs the same grant, which the offboarding test enforces).
  await knex.raw(`
    do $$
    declare r record;
    begin
      for r in
        select c.relname::text as t from pg_class c
          join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute a on a.attrelid = c.oid and a.attname = 'company_id' and not a.attisdropped
         where n.nspname = 'public' and c.relkind in ('r', 'p')
      loop
        execute format('grant select, delete on public.%I to ${PLATFORM}', r.t);
      end loop;
    end
    $$`);
  await knex.raw(`grant delete on companies to ${PLATFORM}`);
  await knex.raw(`grant update (details, reason) on activity_logs to ${PLATFORM}`);
  await knex.raw(
    `grant update (transcript, summary, recording_url, metadata) on calls to ${PLATFORM}`,
  );

  // A new company (the rest of it is created in its own tenant transaction).
  await knex.raw(`
    create function platform_create_company(
      p_name text, p_slug citext, p_timezone text, p_locale text, p_default_region text)
    returns uuid
    language sql volatile security definer set search_path = pg_catalog, public as $$
      insert into companies (name, slug, timezone, locale, default_region)
      values (p_name, p_slug, p_timezone, p_locale, p_default_region)
      returning id
    $$`);

  // Whether a company may be used: read at sign-in, refresh and invitation acceptance (the
  // per-request check is auth_user_access_status, extended below).
  await knex.raw(`
    create function platform_company_status(p_id uuid)
    returns table (suspended boolean, archived boolean)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select c.suspended_at is not null, c.archived_at is not null from companies c where c.id = p_id
    $$`);

  // Suspends or reactivates a company, audited on the platform. Reactivation releases the
  // webhook events that waited for it. p_admin (and the request id and ip) are trusted as given:
  // acceptable only because no role but app_platform_client can call this, and the server calls it
  // only for an authenticated super admin.
  await knex.raw(`
    create function platform_set_company_suspended(
      p_id uuid, p_suspended boolean, p_admin uuid, p_request_id text, p_ip text)
    returns table (changed boolean, released integer)
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    declare
      v_slug text;
      v_was boolean;
      v_released integer := 0;
    begin
      select c.slug, c.suspended_at is not null into v_slug, v_was from companies c where c.id = p_id for update;
      if not found then
        raise exception 'company not found' using errcode = 'P0002';
      end if;
      if v_was = p_suspended then
        return query select false, 0;
        return;
      end if;
      update companies set suspended_at = case when p_suspended then now() end where id = p_id;
      if not p_suspended then
        update webhook_events set next_attempt_at = now()
         where resolved_company_id = p_id and status = 'pending' and next_attempt_at = 'infinity';
        get diagnostics v_released = row_count;
      end if;
      insert into platform_audit_log
        (actor_type, actor_id, action, target_company_id, details, request_id, ip)
      values ('platform_admin', p_admin,
              case when p_suspended then 'company.suspend' else 'company.reactivate' end, p_id,
              jsonb_build_object('slug', v_slug, 'releasedWebhookEvents', v_released),
              p_request_id, p_ip);
      return query select true, v_released;
    end
    $$`);

  // Deletes every row of a suspended company in every tenant table, its webhook events and the
  // company itself, in one transaction (the caller's statement). The order is found by retrying a
  // table whose rows are still referenced until nothing is left; the counts go to the platform
  // audit log. p_admin (and the request id and ip) are trusted as given: acceptable only because no
  // role but app_platform_client can call this, and the server calls it only for an authenticated
  // super admin.
  await knex.raw(`
    create function platform_offboard_company(
      p_id uuid, p_admin uuid, p_request_id text, p_ip text)
    returns table (table_name text, deleted bigint)
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    declare
      v_slug text;
      v_suspended timestamptz;
      v_all text[];
      v_left text[];
      v_next text[];
      v_table text;
      v_n bigint;
      v_round integer := 0;
      v_counts jsonb := '{}';
    begin
      select c.slug, c.suspended_at into v_slug, v_suspended from companies c where c.id = p_id for update;
      if not found then
        raise exception 'company not found' using errcode = 'P0002';
      end if;
      if v_suspended is null then
        raise exception 'a company must be suspended before it is offboarded' using errcode = '55000';
      end if;
      select coalesce(array_agg(c.relname::text order by c.relname), '{}') into v_all
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attname = 'company_id' and not a.attisdropped
       where n.nspname = 'public' and c.relkind in ('r', 'p');
      v_left := v_all;
      while cardinality(v_left) > 0 loop
        v_round := v_round + 1;
        if v_round > cardinality(v_all) + 1 then
          raise exception 'offboarding found no order to delete %', v_left;
        end if;
        v_next := '{}';
        foreach v_table in array v_left loop
          begin
            execute format('delete from public.%I where company_id = $1', v_table) using p_id;
            get diagnostics v_n = row_count;
            v_counts := v_counts || jsonb_build_object(v_table, coalesce((v_counts ->> v_table)::bigint, 0) + v_n);
          exception when foreign_key_violation then
            v_next := v_next || v_table;
          end;
        end loop;
        v_left := v_next;
      end loop;
      delete from webhook_events where resolved_company_id = p_id;
      get diagnostics v_n = row_count;
      v_counts := v_counts || jsonb_build_object('webhook_events', v_n);
      delete from companies where id = p_id;
      insert into platform_audit_log
        (actor_type, actor_id, action, target_company_id, details, request_id, ip)
      values ('platform_admin', p_admin, 'company.offboard', p_id,
              jsonb_build_object('slug', v_slug, 'deleted', v_counts), p_request_id, p_ip);
      return query select k, v::bigint from jsonb_each_text(v_counts) as e(k, v) order by k;
    end
    $$`);

  // Called by the webhook worker for a claimed event of a suspended company: the event goes back
  // to pending, uncounted, and waits (next_attempt_at = infinity) until the company is reactivated.
  await knex.raw(`
    create function lifecycle_defer_webhook_event(p_id uuid, p_worker text, p_company uuid)
    returns boolean
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    begin
      if not exists (select 1 from companies c where c.id = p_company and c.suspended_at is not null) then
        return false;
      end if;
      update webhook_events
         set status = 'pending',
             attempts = greatest(attempts - 1, 0),
             resolved_company_id = p_company,
             next_attempt_at = 'infinity',
             locked_by = null,
             locked_until = null,
             last_error = 'company suspended: waiting for reactivation'
       where id = p_id and status = 'processing' and locked_by = p_worker;
      return found;
    end
    $$`);

  // Erasure of one person in the bound company (app.company_id): activity entries about them or
  // naming them lose their details, and stored webhook payloads naming them are emptied.
  await knex.raw(`
    create function privacy_erase_customer_traces(p_customer uuid, p_needles text[])
    returns integer
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    declare
      v_company uuid := nullif(current_setting('app.company_id', true), '')::uuid;
      v_needles text[];
      v_logs integer;
      v_events integer;
    begin
      if v_company is null then
        raise exception 'no company bound' using errcode = '42501';
      end if;
      select coalesce(array_agg(lower(n)), '{}') into v_needles
        from unnest(p_needles) n where length(trim(n)) >= 3;
      update activity_logs l
         set details = jsonb_build_object('erased', true), reason = null
       where l.company_id = v_company
         and (l.subject_id = p_customer
              or exists (select 1 from unnest(v_needles) n
                          where strpos(lower(l.details::text), n) > 0
                             or strpos(lower(coalesce(l.reason, '')), n) > 0));
      get diagnostics v_logs = row_count;
      update webhook_events w
         set payload_raw = '', payload = '{}', headers = '{}'
       where w.resolved_company_id = v_company
         and exists (select 1 from unnest(v_needles) n where strpos(lower(w.payload_raw), n) > 0);
      get diagnostics v_events = row_count;
      return v_logs + v_events;
    end
    $$`);

  // Retention: at most p_limit calls per run whose transcript (or recording) is older than its
  // company's period, claimed with SKIP LOCKED so several servers can run the job side by side.
  await knex.raw(`
    create function retention_purge_transcripts(p_limit integer)
    returns table (company_id uuid, removed integer)
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with due as (
        select k.company_id, k.id from calls k join companies c on c.id = k.company_id
         where (k.transcript is not null or k.summary is not null
                or jsonb_exists_any(k.metadata, array['transcript_object', 'transcript_with_tool_calls']))
           and coalesce(k.ended_at, k.started_at, k.created_at)
               < now() - make_interval(days => c.transcript_retention_days)
         limit least(greatest(p_limit, 1), 5000)
         for update of k skip locked
      ), done as (
        update calls k
           set transcript = null, summary = null,
               metadata = k.metadata - 'transcript_object' - 'transcript_with_tool_calls'
          from due where k.company_id = due.company_id and k.id = due.id
        returning k.company_id
      )
      select d.company_id, count(*)::integer from done d group by d.company_id
    $$`);
  await knex.raw(`
    create function retention_purge_recordings(p_limit integer)
    returns table (company_id uuid, removed integer)
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with due as (
        select k.company_id, k.id from calls k join companies c on c.id = k.company_id
         where (k.recording_url is not null
                or jsonb_exists_any(k.metadata, array['recording_url', 'recording_multi_channel_url']))
           and coalesce(k.ended_at, k.started_at, k.created_at)
               < now() - make_interval(days => c.recording_retention_days)
         limit least(greatest(p_limit, 1), 5000)
         for update of k skip locked
      ), done as (
        update calls k
           set recording_url = null,
               metadata = k.metadata - 'recording_url' - 'recording_multi_channel_url'
          from due where k.company_id = due.company_id and k.id = due.id
        returning k.company_id
      )
      select d.company_id, count(*)::integer from done d group by d.company_id
    $$`);

  for (const fn of FUNCTIONS) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM}`);
    await knex.raw(`revoke all on function ${fn} from public`);
    await knex.raw(`revoke all on function ${fn} from ${RUNTIME}`);
    await knex.raw(`grant execute on function ${fn} to ${PLATFORM_CLIENT}`);
  }

  // The per-request liveness check also answers company_suspended (after the checks of the user
  // and the session, so a dead session stays UNAUTHENTICATED). CREATE OR REPLACE keeps its
  // signature, owner and grants (app_platform_client only).
  await knex.raw(accessStatus(true));
}

/** auth_user_access_status, with or without the suspension answer. */
function accessStatus(suspension: boolean): string {
  return `
    create or replace function auth_user_access_status(p_company uuid, p_user uuid, p_family uuid)
    returns table (status text, roles text[], staff_id uuid)
    language plpgsql stable security definer set search_path = pg_catalog, public as $$
    begin
      -- PL/pgSQL keeps the plan of this statement for the connection, so a call costs one
      -- execution of three index lookups, not a fresh plan.
      return query
      select case
               when c.archived_at is not null then 'company_archived'
               when u.id is null then 'unknown_user'
               when u.disabled_at is not null then 'user_disabled'
               when not exists (
                 select 1 from user_sessions s
                  where s.company_id = p_company and s.family_id = p_family
                    and s.revoked_at is null and s.rotated_at is null
                    and s.user_id = p_user and s.expires_at > now()
               ) then 'session_revoked'${
                 suspension
                   ? `
               when c.suspended_at is not null then 'company_suspended'`
                   : ''
               }
               else 'active'
             end,
             u.roles, u.staff_id
        from companies c
        left join users u on u.company_id = c.id and u.id = p_user
       where c.id = p_company;
    end
    $$`;
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(accessStatus(false));
  for (const fn of [...FUNCTIONS].reverse()) await knex.raw(`drop function ${fn}`);
  await knex.raw(
    `revoke update (transcript, summary, recording_url, metadata) on calls from ${PLATFORM}`,
  );
  await knex.raw(`revoke update (details, reason) on activity_logs from ${PLATFORM}`);
  await knex.raw(`revoke delete on companies from ${PLATFORM}`);
}
