import type { Knex } from 'knex';

/**
 * Company life cycle: suspension, per-company retention periods, locale, single-use invitations
 * for a company's admins and managers. Platform operations are written to the existing platform
 * audit trail (platform_audit_log). Self-contained: the SQL of the tenant-table conventions is
 * written out here.
 */
const RUNTIME = 'app_runtime';
const PLATFORM = 'app_platform';
const TENANT = `(select nullif(current_setting('app.company_id', true), ''))::uuid`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table companies
      add column suspended_at timestamptz,
      add column locale text not null default 'de-DE',
      add column transcript_retention_days integer not null default 90,
      add column recording_retention_days integer not null default 90,
      add constraint companies_locale_format check (locale ~ '^[a-z]{2,3}(-[A-Z]{2}){0,1}$'),
      add constraint companies_transcript_retention check (transcript_retention_days between 1 and 3650),
      add constraint companies_recording_retention check (recording_retention_days between 1 and 3650)`);
  // An admin may change the company's retention periods (never its suspension).
  await knex.raw(
    `grant update (transcript_retention_days, recording_retention_days, locale) on companies to ${RUNTIME}`,
  );

  // Invitations: only the SHA-256 of the token is stored; the token is shown once.
  await knex.raw(`
    create table user_invitations (
      id uuid not null default gen_random_uuid(),
      company_id uuid not null references companies (id) on delete cascade,
      email citext not null,
      roles text[] not null,
      token_hash text not null,
      expires_at timestamptz not null,
      accepted_at timestamptz,
      accepted_user_id uuid,
      revoked_at timestamptz,
      invited_by_type text not null,
      invited_by_id uuid,
      created_at timestamptz not null default date_trunc('milliseconds', now()),
      updated_at timestamptz not null default now(),
      constraint user_invitations_pkey primary key (company_id, id),
      constraint user_invitations_token_unique unique (company_id, token_hash),
      constraint user_invitations_roles_known check (
        roles <@ array['admin','manager','staff']::text[] and cardinality(roles) > 0),
      constraint user_invitations_invited_by_type check (invited_by_type in ('user','platform_admin')),
      constraint user_invitations_accepted_user_id_fkey foreign key (company_id, accepted_user_id)
        references users (company_id, id) on delete set null (accepted_user_id)
    )`);
  await knex.raw(
    'create index user_invitations_accepted_user_id_idx on user_invitations (company_id, accepted_user_id)',
  );
  await knex.raw('alter table user_invitations enable row level security');
  await knex.raw('alter table user_invitations force row level security');
  await knex.raw(
    `create policy tenant_isolation on user_invitations using (company_id = ${TENANT}) with check (company_id = ${TENANT})`,
  );
  await knex.raw(`grant select, insert, update on user_invitations to ${RUNTIME}`);
  await knex.raw(`grant select on user_invitations to ${PLATFORM}`);
  await knex.raw(
    'create trigger user_invitations_touch before update on user_invitations for each row execute function app_touch_updated_at()',
  );

  // Platform operations are audited in the platform audit trail (platform_audit_log, created by
  // the platform caller role's migration). The SECURITY DEFINER functions that write it run as
  // their owner, app_platform, which may only append to it.
  await knex.raw(`grant insert on platform_audit_log to ${PLATFORM}`);
  await knex.raw(`grant insert on companies to ${PLATFORM}`);
  await knex.raw(`grant update (suspended_at) on companies to ${PLATFORM}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`revoke update (suspended_at) on companies from ${PLATFORM}`);
  await knex.raw(`revoke insert on companies from ${PLATFORM}`);
  await knex.raw(`revoke insert on platform_audit_log from ${PLATFORM}`);
  await knex.raw('drop table user_invitations');
  await knex.raw(
    `revoke update (transcript_retention_days, recording_retention_days, locale) on companies from ${RUNTIME}`,
  );
  await knex.raw(`
    alter table companies
      drop column recording_retention_days,
      drop column transcript_retention_days,
      drop column locale,
      drop column suspended_at`);
}
