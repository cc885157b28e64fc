import type { Knex } from 'knex';
import { PLATFORM_ROLE, RUNTIME_ROLE } from './lib/v1';

/**
 * The only cross-tenant reads the runtime role can make, each a SECURITY DEFINER function owned by
 * app_platform with a fixed search_path. They return just what their caller needs.
 */
export async function up(knex: Knex): Promise<void> {
  // Login by email: the accounts with this email (a company user, or a platform admin).
  await knex.raw(`
    create function platform_login_candidates(p_email citext)
    returns table (kind text, company_id uuid, account_id uuid, password_hash text, disabled boolean)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select 'user', u.company_id, u.id, u.password_hash, u.disabled_at is not null or c.archived_at is not null
        from users u join companies c on c.id = u.company_id
       where u.email = p_email
      union all
      select 'platform_admin', null, a.id, a.password_hash, a.disabled_at is not null
        from platform_admins a
       where a.email = p_email
      limit 10
    $$`);

  await knex.raw(`
    create function platform_admin_profile(p_id uuid)
    returns table (id uuid, email citext, name text, disabled boolean)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select a.id, a.email, a.name, a.disabled_at is not null from platform_admins a where a.id = p_id
    $$`);

  await knex.raw(`
    create function platform_admin_touch_login(p_id uuid) returns void
    language sql volatile security definer set search_path = pg_catalog, public as $$
      update platform_admins set last_login_at = now() where id = p_id
    $$`);

  // The list of companies a super admin may choose from.
  await knex.raw(`
    create function platform_companies()
    returns table (id uuid, name text, slug citext, timezone text, archived_at timestamptz, created_at timestamptz)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select c.id, c.name, c.slug, c.timezone, c.archived_at, c.created_at from companies c order by c.name
    $$`);

  for (const fn of [
    'platform_login_candidates(citext)',
    'platform_admin_profile(uuid)',
    'platform_admin_touch_login(uuid)',
    'platform_companies()',
  ]) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM_ROLE}`);
    await knex.raw(`revoke all on function ${fn} from public`);
    await knex.raw(`grant execute on function ${fn} to ${RUNTIME_ROLE}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function platform_companies()');
  await knex.raw('drop function platform_admin_touch_login(uuid)');
  await knex.raw('drop function platform_admin_profile(uuid)');
  await knex.raw('drop function platform_login_candidates(citext)');
}
