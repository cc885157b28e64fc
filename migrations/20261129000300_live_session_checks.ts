import type { Knex } from 'knex';

/**
 * Per-request liveness checks for access tokens. A signed access token names its company, user and
 * session family; these functions tell in one indexed lookup whether that session is still live,
 * the user still enabled and the company not archived (or whether a platform admin still exists and
 * is enabled), so a logout, a disabled account or an archived company take effect at once rather
 * than when the token expires.
 *
 * They are SECURITY DEFINER functions owned by app_platform, because the check runs before the
 * request's tenant transaction is opened, and return only a status (plus the user's current roles,
 * so a changed role also takes effect at once). Platform admins, who have no refresh sessions, get
 * a time before which their access tokens no longer count, set when they sign out.
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
               ) then 'session_revoked'
               else 'active'
             end,
             u.roles, u.staff_id
        from companies c
        left join users u on u.company_id = c.id and u.id = p_user
       where c.id = p_company;
    end
    $$`);

  // Platform admins have no refresh sessions: signing out ends every access token issued to them
  // until then.
  await knex.raw('alter table platform_admins add column sessions_ended_at timestamptz');
  await knex.raw(`grant update (sessions_ended_at) on platform_admins to ${PLATFORM_ROLE}`);

  await knex.raw(`
    create function auth_platform_admin_status(p_admin uuid, p_issued_at timestamptz)
    returns text
    language sql stable security definer set search_path = pg_catalog, public as $$
      select coalesce(
        (select case
                  when a.disabled_at is not null then 'disabled'
                  when a.sessions_ended_at is not null and p_issued_at <= a.sessions_ended_at
                    then 'session_revoked'
                  else 'active'
                end
           from platform_admins a where a.id = p_admin),
        'unknown_admin')
    $$`);

  await knex.raw(`
    create function platform_admin_end_sessions(p_admin uuid, p_at timestamptz)
    returns void
    language sql volatile security definer set search_path = pg_catalog, public as $$
      update platform_admins
         set sessions_ended_at = greatest(coalesce(sessions_ended_at, p_at), p_at)
       where id = p_admin
    $$`);

  for (const fn of [
    'auth_user_access_status(uuid, uuid, uuid)',
    'auth_platform_admin_status(uuid, timestamptz)',
    'platform_admin_end_sessions(uuid, timestamptz)',
  ]) {
    await knex.raw(`alter function ${fn} owner to ${PLATFORM_ROLE}`);
    await knex.raw(`revoke all on function ${fn} from public`);
    await knex.raw(`grant execute on function ${fn} to ${RUNTIME_ROLE}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function platform_admin_end_sessions(uuid, timestamptz)');
  await knex.raw('drop function auth_platform_admin_status(uuid, timestamptz)');
  await knex.raw(`revoke update (sessions_ended_at) on platform_admins from ${PLATFORM_ROLE}`);
  await knex.raw('alter table platform_admins drop column sessions_ended_at');
  await knex.raw('drop function auth_user_access_status(uuid, uuid, uuid)');
  await knex.raw('drop index user_sessions_live_idx');
}
