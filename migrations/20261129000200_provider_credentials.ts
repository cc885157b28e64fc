import type { Knex } from 'knex';

/**
 * Per-company provider credentials: each Cal.com webhook and each Retell account a company brings
 * is registered for exactly one company, with its own endpoint (`/api/webhooks/<provider>/<id>`).
 * A delivery to that endpoint is verified with that credential only, and may only touch that
 * company.
 *
 * The secret is needed in the clear for HMAC checks, so it is stored sealed (AES-256-GCM, done by
 * the application): `secret_ciphertext` is `iv || ciphertext || tag` and `secret_key_id` names the
 * key that sealed it. During a rotation the previous secret stays usable until
 * `previous_valid_until`.
 *
 * A tenant table with the usual invariants, written out here (a migration must not change when
 * shared helpers do). The webhook endpoints look a credential up by id before any company is
 * known, through the SECURITY DEFINER function below, owned by app_platform.
 */
const RUNTIME_ROLE = 'app_runtime';
const PLATFORM_ROLE = 'app_platform';
const CURRENT_TENANT_SQL = `(select nullif(current_setting('app.company_id', true), ''))::uuid`;

const FUNCTIONS = ['platform_provider_credential(uuid)', 'provider_credential_used(uuid, uuid)'];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table provider_credentials (
      id uuid not null default gen_random_uuid(),
      company_id uuid not null references companies (id) on delete cascade,
      provider text not null,
      label text not null,
      secret_key_id text not null,
      secret_ciphertext bytea not null,
      previous_secret_key_id text,
      previous_secret_ciphertext bytea,
      previous_valid_until timestamptz,
      rotated_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      created_by text,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default now(),
      constraint provider_credentials_pkey primary key (company_id, id),
      constraint provider_credentials_provider check (provider in ('calcom', 'retell')),
      constraint provider_credentials_label check (length(label) between 1 and 100),
      constraint provider_credentials_sealed check (
        length(secret_ciphertext) >= 29 and length(secret_key_id) between 1 and 32),
      constraint provider_credentials_previous check (
        (previous_secret_key_id is null) = (previous_secret_ciphertext is null)
        and (previous_secret_key_id is null) = (previous_valid_until is null))
    )`);
  // The webhook endpoint finds a credential by its id alone (the endpoint id).
  await knex.raw('create index provider_credentials_id_idx on provider_credentials (id)');
  // The admin list, newest first.
  await knex.raw(
    'create index provider_credentials_company_created_idx on provider_credentials (company_id, created_at desc)',
  );
  await knex.raw('alter table provider_credentials enable row level security');
  await knex.raw('alter table provider_credentials force row level security');
  await knex.raw(
    `create policy tenant_isolation on provider_credentials using (company_id = ${CURRENT_TENANT_SQL}) with check (company_id = ${CURRENT_TENANT_SQL})`,
  );
  // No delete: a credential is revoked, and its row stays for the audit trail.
  await knex.raw(`grant select, insert, update on provider_credentials to ${RUNTIME_ROLE}`);
  await knex.raw(`grant select on provider_credentials to ${PLATFORM_ROLE}`);
  await knex.raw(
    'create trigger provider_credentials_touch before update on provider_credentials for each row execute function app_touch_updated_at()',
  );

  // The credential behind an endpoint id, sealed secrets included (they open only in the server,
  // which holds the keys). Revoked credentials are returned too, so the refusal can say why.
  await knex.raw(`
    create function platform_provider_credential(p_id uuid)
    returns table (
      company_id uuid, provider text, secret_key_id text, secret_ciphertext bytea,
      previous_secret_key_id text, previous_secret_ciphertext bytea,
      previous_valid_until timestamptz, revoked_at timestamptz)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select c.company_id, c.provider, c.secret_key_id, c.secret_ciphertext,
             c.previous_secret_key_id, c.previous_secret_ciphertext,
             c.previous_valid_until, c.revoked_at
        from provider_credentials c
       where c.id = p_id
       limit 2
    $$`);

  // Records that a credential verified a delivery; at most one write a minute per credential.
  await knex.raw(`
    create function provider_credential_used(p_id uuid, p_company uuid)
    returns void
    language sql volatile security definer set search_path = pg_catalog, public as $$
      update provider_credentials
         set last_used_at = now()
       where id = p_id and company_id = p_company
         and (last_used_at is null or last_used_at < now() - interval '1 minute')
    $$`);
  await knex.raw(`grant update (last_used_at) on provider_credentials to ${PLATFORM_ROLE}`);

  for (const fn of FUNCTIONS) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM_ROLE}`);
    await knex.raw(`revoke all on function ${fn} from public`);
    await knex.raw(`grant execute on function ${fn} to ${RUNTIME_ROLE}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const fn of FUNCTIONS) await knex.raw(`drop function ${fn}`);
  await knex.raw('drop table provider_credentials');
}
