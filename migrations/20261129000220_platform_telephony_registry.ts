import type { Knex } from 'knex';

/**
 * A phone number and a Retell agent id belong to exactly one company, platform-wide. The tenant
 * tables cannot say so themselves (every unique key of a tenant table includes company_id), so
 * two platform registries hold number -> company and agent id -> company. They are kept in step by
 * triggers on phone_numbers and retell_agents (SECURITY DEFINER, owned by app_platform), whatever
 * code writes those tables: a second company claiming a number or agent gets a unique violation
 * (constraint `phone_numbers_number_platform_unique` / `retell_agents_agent_id_platform_unique`).
 * The runtime role has no privilege on the registries at all.
 *
 * Routing now also skips inactive agents and numbers.
 */
const PLATFORM_ROLE = 'app_platform';

const FUNCTIONS = ['platform_claim_phone_number()', 'platform_claim_retell_agent()'];

async function refuseDuplicates(knex: Knex, table: string, column: string): Promise<void> {
  const { rows } = await knex.raw<{ rows: { value: string }[] }>(
    `select ?? as value from ?? group by ?? having count(distinct company_id) > 1 order by 1 limit 20`,
    [column, table, column],
  );
  if (rows.length > 0) {
    throw new Error(
      `${table}.${column} is registered by more than one company for: ${rows
        .map((r) => r.value)
        .join(', ')}. A super admin must decide which company owns each before this migration ` +
        'can run (delete or change the other rows).',
    );
  }
}

export async function up(knex: Knex): Promise<void> {
  await refuseDuplicates(knex, 'phone_numbers', 'number_e164');
  await refuseDuplicates(knex, 'retell_agents', 'agent_id');

  await knex.raw(`
    create table platform_phone_numbers (
      number_e164 text primary key,
      owner_company_id uuid not null references companies (id) on delete cascade,
      phone_number_id uuid not null,
      assigned_at timestamptz not null default now()
    )`);
  await knex.raw(
    'create index platform_phone_numbers_owner_idx on platform_phone_numbers (owner_company_id, phone_number_id)',
  );
  await knex.raw(`
    create table platform_retell_agents (
      agent_id text primary key,
      owner_company_id uuid not null references companies (id) on delete cascade,
      retell_agent_id uuid not null,
      assigned_at timestamptz not null default now()
    )`);
  await knex.raw(
    'create index platform_retell_agents_owner_idx on platform_retell_agents (owner_company_id, retell_agent_id)',
  );
  for (const table of ['platform_phone_numbers', 'platform_retell_agents']) {
    // Row level security without a policy: nobody but app_platform (BYPASSRLS) reads or writes.
    await knex.raw(`alter table ${table} enable row level security`);
    await knex.raw(`alter table ${table} force row level security`);
    await knex.raw(`grant select, insert, update, delete on ${table} to ${PLATFORM_ROLE}`);
  }
  await knex.raw(`
    insert into platform_phone_numbers (number_e164, owner_company_id, phone_number_id)
    select number_e164, company_id, id from phone_numbers`);
  await knex.raw(`
    insert into platform_retell_agents (agent_id, owner_company_id, retell_agent_id)
    select agent_id, company_id, id from retell_agents`);

  await knex.raw(`
    create function platform_claim_phone_number() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        delete from platform_phone_numbers
         where owner_company_id = old.company_id and phone_number_id = old.id;
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        insert into platform_phone_numbers (number_e164, owner_company_id, phone_number_id)
        values (new.number_e164, new.company_id, new.id)
        on conflict (number_e164) do nothing;
        if not found then
          raise exception 'phone number % is already assigned to a company', new.number_e164
            using errcode = '23505', constraint = 'phone_numbers_number_platform_unique',
                  table = 'phone_numbers', column = 'number_e164';
        end if;
      end if;
      return null;
    end
    $$`);
  await knex.raw(`
    create function platform_claim_retell_agent() returns trigger
    language plpgsql security definer set search_path = pg_catalog, public as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        delete from platform_retell_agents
         where owner_company_id = old.company_id and retell_agent_id = old.id;
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        insert into platform_retell_agents (agent_id, owner_company_id, retell_agent_id)
        values (new.agent_id, new.company_id, new.id)
        on conflict (agent_id) do nothing;
        if not found then
          raise exception 'Retell agent % is already assigned to a company', new.agent_id
            using errcode = '23505', constraint = 'retell_agents_agent_id_platform_unique',
                  table = 'retell_agents', column = 'agent_id';
        end if;
      end if;
      return null;
    end
    $$`);
  for (const fn of FUNCTIONS) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM_ROLE}`);
    await knex.raw(`revoke all on function ${fn} from public`);
  }
  // AFTER triggers: a row refused by row level security or a constraint never reaches them.
  await knex.raw(`
    create trigger phone_numbers_platform_claim
      after insert or delete or update of number_e164, company_id on phone_numbers
      for each row execute function platform_claim_phone_number()`);
  await knex.raw(`
    create trigger retell_agents_platform_claim
      after insert or delete or update of agent_id, company_id on retell_agents
      for each row execute function platform_claim_retell_agent()`);

  // Routing as before, but inactive agents and numbers are not routed.
  await knex.raw(`
    create or replace function platform_route_retell(p_agent_id text, p_number text)
    returns table (matched_by text, company_id uuid, retell_agent_id uuid, phone_number_id uuid)
    language sql stable security definer set search_path = pg_catalog, public as $$
      (select 'agent', a.company_id, a.id, null::uuid from retell_agents a
        where p_agent_id is not null and a.agent_id = p_agent_id and a.active limit 10)
      union all
      (select 'number', p.company_id, p.retell_agent_id, p.id from phone_numbers p
        where p_number is not null and p.number_e164 = p_number and p.active limit 10)
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function platform_route_retell(p_agent_id text, p_number text)
    returns table (matched_by text, company_id uuid, retell_agent_id uuid, phone_number_id uuid)
    language sql stable security definer set search_path = pg_catalog, public as $$
      (select 'agent', a.company_id, a.id, null::uuid from retell_agents a
        where p_agent_id is not null and a.agent_id = p_agent_id limit 10)
      union all
      (select 'number', p.company_id, p.retell_agent_id, p.id from phone_numbers p
        where p_number is not null and p.number_e164 = p_number limit 10)
    $$`);
  await knex.raw('drop trigger retell_agents_platform_claim on retell_agents');
  await knex.raw('drop trigger phone_numbers_platform_claim on phone_numbers');
  for (const fn of FUNCTIONS) await knex.raw(`drop function ${fn}`);
  await knex.raw('drop table platform_retell_agents');
  await knex.raw('drop table platform_phone_numbers');
}
