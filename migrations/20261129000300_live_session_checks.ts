import type { Knex } from 'knex';

/**
 * Per-request liveness checks for access tokens. A signed access token names its company, user and
 * session family; these functions tell in one indexed lookup whether that session is still live,
 * the user still enabled and the company not archived (or whether a platform admin still exists and
 * is enabled), so a logout, a disabled account or an archived company take effect at once rather
 * than when the token expires.
 *
 * Both are SECURITY DEFINER functions owned by app_platform, because the check runs before the
 * request's tenant transaction is opened, and return only a status (plus the user's current roles,
 * so a changed role also takes effect at once).
 */
const RUNTIME_ROLE = 'app_runtime';
const PLATFORM_ROLE = 'app_platform';

export async function up(knex: Knex): Promise<void> {
  // At most one row of a session family is live (neither rotated nor revoked): the check reads it
  // through this index however many times the family has been rotated.
  await knex.raw(`
    create index user_sessions_live_idx on user_sessions (company_id, family_id)
     where revoked_at is null and rotated_at is null`);

  await knex.raw(`
    create function auth_user_access_status(p_company uuid, p_user uuid, p_family uuid)
    returns table (status text, roles text[], staff_id uuid)
    language sql stable security definer set search_path = pg_catalog, public as $$
      select case
               when c.archived_at is not null then 'company_archived'
               when u.id is null then 'unknown_user'
               when u.disabled_at is not null then 'user_disabled'
               when not exists (
                 select 1 from user_sessions s
                  where s.company_id = p_company and s.family_id = p_family
                    and s.revoked_at is null and s.rotated_at is null
                    and s.user_id = p_user and s.expires_at > now()
               ) then 'session_revoked'
               else 'active'
             end,
             u.roles, u.staff_id
        from companies c
        left join users u on u.company_id = c.id and u.id = p_user
       where c.id = p_company
    $$`);

  await knex.raw(`
    create function auth_platform_admin_status(p_admin uuid)
    returns text
    language sql stable security definer set search_path = pg_catalog, public as $$
      select coalesce(
        (select case when a.disabled_at is null then 'active' else 'disabled' end
           from platform_admins a where a.id = p_admin),
        'unknown_admin')
    $$`);

  for (const fn of [
    'auth_user_access_status(uuid, uuid, uuid)',
    'auth_platform_admin_status(uuid)',
  ]) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM_ROLE}`);
    await knex.raw(`revoke all on function ${fn} from public`);
    await knex.raw(`grant execute on function ${fn} to ${RUNTIME_ROLE}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function auth_platform_admin_status(uuid)');
  await knex.raw('drop function auth_user_access_status(uuid, uuid, uuid)');
  await knex.raw('drop index user_sessions_live_idx');
}
