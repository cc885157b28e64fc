import type { Knex } from 'knex';

/**
 * Stored answers of the voice agent's changing functions (book, reschedule, cancel, callback),
 * keyed by call, function and a hash of the arguments. Retell retries a slow or failed request:
 * the retry finds the stored answer instead of acting twice. The row is inserted in the same
 * transaction as the effect, so a concurrent retry waits on the unique key and then reads the
 * answer of the first.
 *
 * A tenant table with the usual invariants, written out here (a migration must not change when
 * shared helpers do).
 */
const RUNTIME_ROLE = 'app_runtime';
const PLATFORM_ROLE = 'app_platform';
const CURRENT_TENANT_SQL = `(select nullif(current_setting('app.company_id', true), ''))::uuid`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table voice_idempotency (
      id uuid not null default gen_random_uuid(),
      company_id uuid not null references companies (id) on delete cascade,
      call_id uuid not null,
      function_name text not null,
      args_hash text not null,
      response jsonb,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default now(),
      constraint voice_idempotency_pkey primary key (company_id, id),
      constraint voice_idempotency_key unique (company_id, call_id, function_name, args_hash),
      constraint voice_idempotency_call_id_fkey foreign key (company_id, call_id)
        references calls (company_id, id) on delete cascade,
      constraint voice_idempotency_hash check (args_hash ~ '^[0-9a-f]{64}$')
    )`);
  await knex.raw('alter table voice_idempotency enable row level security');
  await knex.raw('alter table voice_idempotency force row level security');
  await knex.raw(
    `create policy tenant_isolation on voice_idempotency using (company_id = ${CURRENT_TENANT_SQL}) with check (company_id = ${CURRENT_TENANT_SQL})`,
  );
  await knex.raw(`grant select, insert, update on voice_idempotency to ${RUNTIME_ROLE}`);
  // Delete for offboarding (platform_offboard_company removes every row of a company).
  await knex.raw(`grant select, delete on voice_idempotency to ${PLATFORM_ROLE}`);
  await knex.raw(
    'create trigger voice_idempotency_touch before update on voice_idempotency for each row execute function app_touch_updated_at()',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table voice_idempotency');
}
