import type { Knex } from 'knex';

/**
 * Per-company settings of the voice agent: the language it speaks and an optional bearer secret
 * that Retell sends as a custom header with every function call (stored as a SHA-256 hash of a
 * random secret, never in the clear). During a rotation the previous hash keeps working until
 * `previous_valid_until`. At most one row per company.
 *
 * A tenant table with the usual invariants, written out here (a migration must not change when
 * shared helpers do).
 */
const RUNTIME_ROLE = 'app_runtime';
const PLATFORM_ROLE = 'app_platform';
const CURRENT_TENANT_SQL = `(select nullif(current_setting('app.company_id', true), ''))::uuid`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table voice_agent_settings (
      id uuid not null default gen_random_uuid(),
      company_id uuid not null references companies (id) on delete cascade,
      language text,
      secret_hash text,
      previous_secret_hash text,
      previous_valid_until timestamptz,
      secret_rotated_at timestamptz,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default now(),
      constraint voice_agent_settings_pkey primary key (company_id, id),
      constraint voice_agent_settings_company_key unique (company_id),
      constraint voice_agent_settings_language check (language in ('de', 'en')),
      constraint voice_agent_settings_hash check (secret_hash ~ '^[0-9a-f]{64}$'),
      constraint voice_agent_settings_previous check (
        (previous_secret_hash is null) = (previous_valid_until is null))
    )`);
  await knex.raw('alter table voice_agent_settings enable row level security');
  await knex.raw('alter table voice_agent_settings force row level security');
  await knex.raw(
    `create policy tenant_isolation on voice_agent_settings using (company_id = ${CURRENT_TENANT_SQL}) with check (company_id = ${CURRENT_TENANT_SQL})`,
  );
  await knex.raw(`grant select, insert, update, delete on voice_agent_settings to ${RUNTIME_ROLE}`);
  // Delete for offboarding (platform_offboard_company removes every row of a company).
  await knex.raw(`grant select, delete on voice_agent_settings to ${PLATFORM_ROLE}`);
  await knex.raw(
    'create trigger voice_agent_settings_touch before update on voice_agent_settings for each row execute function app_touch_updated_at()',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table voice_agent_settings');
}
