import type { Knex } from 'knex';
import { CURRENT_TENANT_SQL, PLATFORM_ROLE, RUNTIME_ROLE, createTenantTable } from './lib/v1';

/**
 * Inbound webhooks: the Cal.com routing tables (tenant-owned) and the durable inbox
 * `webhook_events` (platform-owned).
 *
 * The inbox has no company_id: an event is stored before anyone knows which company it belongs to,
 * and an unroutable one never belongs to any. `resolved_company_id` is filled in by the worker.
 * The runtime role can only SELECT from it, and row level security shows it the rows of the
 * transaction's tenant only, so a company admin listing events sees their own company's and
 * nothing else (unroutable rows have no company and are invisible to every tenant). Every write,
 * and every read across companies, goes through the SECURITY DEFINER functions below, owned by
 * app_platform with a fixed search_path.
 */
export async function up(knex: Knex): Promise<void> {
  // Which Cal.com event type books which service (and optionally which staff member or branch).
  await createTenantTable(
    knex,
    'team_event_type_mappings',
    (t) => {
      t.integer('calcom_event_type_id').notNullable();
      t.text('label');
      t.unique(['company_id', 'calcom_event_type_id']);
    },
    {
      refs: [
        { column: 'service_id', table: 'services' },
        { column: 'staff_id', table: 'staff', nullable: true },
        { column: 'branch_id', table: 'branches', nullable: true },
      ],
    },
  );
  // Routing looks an event type up across companies (through platform_route_calcom).
  await knex.raw(
    'create index team_event_type_mappings_event_type_idx on team_event_type_mappings (calcom_event_type_id)',
  );

  // Which Cal.com team member (user id or email) is which staff member.
  await createTenantTable(
    knex,
    'calcom_team_members',
    (t) => {
      t.integer('calcom_user_id');
      t.specificType('email', 'citext');
      t.unique(['company_id', 'calcom_user_id']);
      t.unique(['company_id', 'email']);
      t.check(
        'calcom_user_id is not null or email is not null',
        [],
        'calcom_team_members_identified',
      );
    },
    { refs: [{ column: 'staff_id', table: 'staff', onDelete: 'CASCADE' }] },
  );

  await knex.schema.createTable('webhook_events', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('provider').notNullable();
    t.text('event_type').notNullable();
    t.text('dedupe_key').notNullable();
    t.text('payload_raw').notNullable();
    t.jsonb('payload').notNullable();
    t.jsonb('headers').notNullable().defaultTo('{}');
    t.text('source_ip');
    t.text('request_id');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('last_error');
    t.timestamp('processed_at', { useTz: true });
    t.timestamp('locked_until', { useTz: true });
    t.text('locked_by');
    // A company's events go with the company: their payloads hold its customers' data.
    t.uuid('resolved_company_id').references('id').inTable('companies').onDelete('CASCADE');
    t.integer('replay_count').notNullable().defaultTo(0);
    t.timestamp('last_replayed_at', { useTz: true });
    t.text('last_replayed_by');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['provider', 'dedupe_key'], {
      indexName: 'webhook_events_provider_dedupe_key_unique',
    });
    t.check(`provider in ('retell','calcom')`, [], 'webhook_events_provider');
    t.check(
      `status in ('pending','processing','processed','ignored','unroutable','failed','dead')`,
      [],
      'webhook_events_status',
    );
    t.check('length(dedupe_key) between 1 and 500', [], 'webhook_events_dedupe_key_length');
    t.check('attempts >= 0', [], 'webhook_events_attempts');
  });
  // A company's events, newest first (also the index of the foreign key).
  await knex.raw(
    'create index webhook_events_company_received_idx on webhook_events (resolved_company_id, received_at desc, id desc)',
  );
  // Everything, newest first (super admin listing and the retention purge).
  await knex.raw(
    'create index webhook_events_received_idx on webhook_events (received_at desc, id desc)',
  );
  // Recent events in a state (failures, unroutable).
  await knex.raw(
    'create index webhook_events_status_received_idx on webhook_events (status, received_at desc)',
  );
  // What the worker claims: only rows that still have work, so the index stays small.
  await knex.raw(`
    create index webhook_events_due_idx on webhook_events (next_attempt_at)
    where status in ('pending','failed','processing')`);
  await knex.raw(
    'create trigger webhook_events_touch before update on webhook_events for each row execute function app_touch_updated_at()',
  );
  await knex.raw('alter table webhook_events enable row level security');
  await knex.raw('alter table webhook_events force row level security');
  await knex.raw(
    `create policy company_events on webhook_events for select to ${RUNTIME_ROLE} using (resolved_company_id = ${CURRENT_TENANT_SQL})`,
  );
  await knex.raw(`grant select on webhook_events to ${RUNTIME_ROLE}`);
  await knex.raw(`grant select, insert, update, delete on webhook_events to ${PLATFORM_ROLE}`);

  // Durable, idempotent insert. Returns the row's id and whether this call inserted it; a
  // duplicate (same provider and dedupe key) leaves the stored event untouched.
  await knex.raw(`
    create function webhook_ingest(
      p_provider text, p_event_type text, p_dedupe_key text, p_payload_raw text, p_payload jsonb,
      p_headers jsonb, p_source_ip text, p_request_id text)
    returns table (id uuid, inserted boolean)
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    declare
      v_id uuid;
    begin
      insert into webhook_events as e
        (provider, event_type, dedupe_key, payload_raw, payload, headers, source_ip, request_id)
      values (p_provider, p_event_type, p_dedupe_key, p_payload_raw, p_payload, coalesce(p_headers, '{}'),
              p_source_ip, p_request_id)
      on conflict (provider, dedupe_key) do nothing
      returning e.id into v_id;
      if v_id is not null then
        return query select v_id, true;
        return;
      end if;
      -- A new statement sees a concurrent insert that committed after the one above started.
      return query select w.id, false from webhook_events w
        where w.provider = p_provider and w.dedupe_key = p_dedupe_key;
    end
    $$`);

  // Claims due events for one worker: pending ones, failed ones whose retry time came, and
  // processing ones whose lease ran out (their worker died). SKIP LOCKED lets several workers
  // claim side by side without waiting on each other. Each claim counts as an attempt, so an
  // event that kills its worker every time still ends dead.
  await knex.raw(`
    create function webhook_claim(p_worker text, p_limit integer, p_lease_ms integer)
    returns setof webhook_events
    language sql volatile security definer set search_path = pg_catalog, public as $$
      with due as (
        select w.id from webhook_events w
         where w.status in ('pending','failed','processing') and w.next_attempt_at <= now()
         order by w.next_attempt_at, w.received_at
         limit least(greatest(p_limit, 1), 500)
         for update skip locked
      )
      update webhook_events e
         set status = 'processing',
             attempts = e.attempts + 1,
             locked_by = p_worker,
             locked_until = now() + make_interval(secs => p_lease_ms / 1000.0),
             next_attempt_at = now() + make_interval(secs => p_lease_ms / 1000.0)
        from due
       where e.id = due.id
      returning e.*
    $$`);

  // Records the outcome of a claimed event. Called in the same transaction as the event's effect:
  // when the lease was lost to another worker it raises, which rolls the effect back, so only one
  // worker's effect ever stands.
  await knex.raw(`
    create function webhook_complete(
      p_id uuid, p_worker text, p_status text, p_company uuid, p_error text)
    returns void
    language plpgsql volatile security definer set search_path = pg_catalog, public as $$
    begin
      if p_status not in ('processed','ignored','unroutable','dead') then
        raise exception 'webhook_complete: % is not a final status', p_status;
      end if;
      update webhook_events
         set status = p_status,
             resolved_company_id = coalesce(p_company, resolved_company_id),
             last_error = p_error,
             processed_at = now(),
             locked_by = null,
             locked_until = null
       where id = p_id and status = 'processing' and locked_by = p_worker;
      if not found then
        raise exception 'webhook event % is no longer claimed by %', p_id, p_worker
          using errcode = 'P0002';
      end if;
    end
    $$`);

  // Records a failed attempt: retried at p_retry_at, or dead when p_retry_at is null.
  await knex.raw(`
    create function webhook_fail(
      p_id uuid, p_worker text, p_company uuid, p_error text, p_retry_at timestamptz)
    returns boolean
    language sql volatile security definer set search_path = pg_catalog, public as $$
      update webhook_events
         set status = case when p_retry_at is null then 'dead' else 'failed' end,
             resolved_company_id = coalesce(p_company, resolved_company_id),
             last_error = left(p_error, 2000),
             next_attempt_at = coalesce(p_retry_at, now()),
             locked_by = null,
             locked_until = null
       where id = p_id and status = 'processing' and locked_by = p_worker
      returning true
    $$`);

  // Puts a failed, dead or unroutable event back in the queue. Inside a tenant transaction only
  // that company's events can be replayed; outside one (a super admin) any event.
  await knex.raw(`
    create function webhook_replay(p_id uuid, p_by text)
    returns setof webhook_events
    language sql volatile security definer set search_path = pg_catalog, public as $$
      update webhook_events
         set status = 'pending',
             attempts = 0,
             next_attempt_at = now(),
             locked_by = null,
             locked_until = null,
             replay_count = replay_count + 1,
             last_replayed_at = now(),
             last_replayed_by = p_by
       where id = p_id
         and status in ('failed','dead','unroutable')
         and (${CURRENT_TENANT_SQL} is null or resolved_company_id = ${CURRENT_TENANT_SQL})
      returning *
    $$`);

  // Super admin listing across companies, newest first, keyset-paginated.
  await knex.raw(`
    create function platform_webhook_events(
      p_id uuid, p_company uuid, p_unroutable_only boolean, p_provider text, p_statuses text[],
      p_before_at timestamptz, p_before_id uuid, p_limit integer)
    returns setof webhook_events
    language sql stable security definer set search_path = pg_catalog, public as $$
      select * from webhook_events w
       where (p_id is null or w.id = p_id)
         and (p_company is null or w.resolved_company_id = p_company)
         and (not coalesce(p_unroutable_only, false) or w.resolved_company_id is null)
         and (p_provider is null or w.provider = p_provider)
         and (p_statuses is null or w.status = any(p_statuses))
         and (p_before_at is null or (w.received_at, w.id) < (p_before_at, p_before_id))
       order by w.received_at desc, w.id desc
       limit least(greatest(p_limit, 1), 501)
    $$`);

  await knex.raw(`
    create function platform_webhook_stats(p_since timestamptz)
    returns table (provider text, status text, events bigint, oldest_received_at timestamptz)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select w.provider, w.status, count(*), min(w.received_at) from webhook_events w
       where w.received_at >= p_since or w.status in ('pending','processing','failed')
       group by w.provider, w.status
    $$`);

  // Retention: finished events older than p_before go, a bounded batch at a time.
  await knex.raw(`
    create function webhook_purge(p_before timestamptz, p_limit integer)
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

  // Routing of a Retell call: agents by Retell agent id, numbers by the business-side number.
  // Every match is returned; the caller treats more than one company as ambiguous.
  await knex.raw(`
    create function platform_route_retell(p_agent_id text, p_number text)
    returns table (matched_by text, company_id uuid, retell_agent_id uuid, phone_number_id uuid)
    language sql stable security definer set search_path = pg_catalog, public as $$
      (select 'agent', a.company_id, a.id, null::uuid from retell_agents a
        where p_agent_id is not null and a.agent_id = p_agent_id limit 10)
      union all
      (select 'number', p.company_id, p.retell_agent_id, p.id from phone_numbers p
        where p_number is not null and p.number_e164 = p_number limit 10)
    $$`);

  // Routing of a Cal.com booking: the companies that mapped its event type.
  await knex.raw(`
    create function platform_route_calcom(p_event_type_id integer)
    returns table (company_id uuid, mapping_id uuid)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select m.company_id, m.id from team_event_type_mappings m
       where m.calcom_event_type_id = p_event_type_id limit 10
    $$`);

  for (const fn of FUNCTIONS) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM_ROLE}`);
    await knex.raw(`revoke all on function ${fn} from public`);
    await knex.raw(`grant execute on function ${fn} to ${RUNTIME_ROLE}`);
  }
}

const FUNCTIONS = [
  'webhook_ingest(text, text, text, text, jsonb, jsonb, text, text)',
  'webhook_claim(text, integer, integer)',
  'webhook_complete(uuid, text, text, uuid, text)',
  'webhook_fail(uuid, text, uuid, text, timestamptz)',
  'webhook_replay(uuid, text)',
  'platform_webhook_events(uuid, uuid, boolean, text, text[], timestamptz, uuid, integer)',
  'platform_webhook_stats(timestamptz)',
  'webhook_purge(timestamptz, integer)',
  'platform_route_retell(text, text)',
  'platform_route_calcom(integer)',
];

export async function down(knex: Knex): Promise<void> {
  for (const fn of FUNCTIONS) await knex.raw(`drop function ${fn}`);
  await knex.schema.dropTable('webhook_events');
  await knex.schema.dropTable('calcom_team_members');
  await knex.schema.dropTable('team_event_type_mappings');
}
