import type { Knex } from 'knex';

/**
 * The log of the voice agent's function calls during a call: which function, with which outcome,
 * how long it took. Append-only for the runtime role; shown on the Call in GraphQL.
 *
 * A tenant table with the usual invariants, written out here (a migration must not change when
 * shared helpers do).
 */
const RUNTIME_ROLE = 'app_runtime';
const PLATFORM_ROLE = 'app_platform';
const CURRENT_TENANT_SQL = `(select nullif(current_setting('app.company_id', true), ''))::uuid`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table voice_function_calls (
      id uuid not null default gen_random_uuid(),
      company_id uuid not null references companies (id) on delete cascade,
      call_id uuid not null,
      function_name text not null,
      outcome text not null,
      error_code text,
      latency_ms integer not null,
      replayed boolean not null default false,
      request_id text,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default now(),
      constraint voice_function_calls_pkey primary key (company_id, id),
      constraint voice_function_calls_call_id_fkey foreign key (company_id, call_id)
        references calls (company_id, id) on delete cascade,
      constraint voice_function_calls_function check (function_name ~ '^[a-z_]{1,64}$'),
      constraint voice_function_calls_outcome check (
        outcome in ('ok', 'refused', 'invalid', 'limited', 'error')),
      constraint voice_function_calls_latency check (latency_ms >= 0)
    )`);
  // The Call's log, in order.
  await knex.raw(
    'create index voice_function_calls_call_id_idx on voice_function_calls (company_id, call_id, created_at)',
  );
  await knex.raw('alter table voice_function_calls enable row level security');
  await knex.raw('alter table voice_function_calls force row level security');
  await knex.raw(
    `create policy tenant_isolation on voice_function_calls using (company_id = ${CURRENT_TENANT_SQL}) with check (company_id = ${CURRENT_TENANT_SQL})`,
  );
  await knex.raw(`grant select, insert on voice_function_calls to ${RUNTIME_ROLE}`);
  // Delete for offboarding (platform_offboard_company removes every row of a company).
  await knex.raw(`grant select, delete on voice_function_calls to ${PLATFORM_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table voice_function_calls');
}
