import type { Knex } from 'knex';

/**
 * One definition of a user session's liveness, for both places that check it:
 *
 * - `session_access_status` (SECURITY INVOKER): runs with the caller's rights. The runtime role
 *   calls it as the first statement of a query's tenant transaction, so row level security limits
 *   it to the bound company, which is all it reads.
 * - `auth_user_access_status` (SECURITY DEFINER, app_platform_client only, unchanged signature,
 *   owner and grants): the platform handle's check for every other request, now a call of the
 *   invoker function with the owner's rights.
 *
 * Same statuses in the same order as before: company archived, unknown user, user disabled,
 * session revoked, company suspended, active. Self-contained: no helper of src/ is imported.
 */
const RUNTIME = 'app_runtime';
const PLATFORM = 'app_platform';

const STATUS_SQL = `
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
               when c.suspended_at is not null then 'company_suspended'
               else 'active'
             end,
             u.roles, u.staff_id
        from companies c
        left join users u on u.company_id = c.id and u.id = p_user
       where c.id = p_company`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function session_access_status(p_company uuid, p_user uuid, p_family uuid)
    returns table (status text, roles text[], staff_id uuid)
    language plpgsql stable security invoker set search_path = pg_catalog, public as $$
    begin
      -- PL/pgSQL keeps the plan of this statement for the connection: a call costs one execution
      -- of three index lookups, not a fresh plan.
      return query ${STATUS_SQL};
    end
    $$`);
  await knex.raw('revoke all on function session_access_status(uuid, uuid, uuid) from public');
  for (const role of [RUNTIME, PLATFORM]) {
    await knex.raw(`grant execute on function session_access_status(uuid, uuid, uuid) to ${role}`);
  }
  // CREATE OR REPLACE keeps the signature, owner (app_platform) and grants (app_platform_client).
  await knex.raw(`
    create or replace function auth_user_access_status(p_company uuid, p_user uuid, p_family uuid)
    returns table (status text, roles text[], staff_id uuid)
    language plpgsql stable security definer set search_path = pg_catalog, public as $$
    begin
      return query select * from session_access_status(p_company, p_user, p_family);
    end
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function auth_user_access_status(p_company uuid, p_user uuid, p_family uuid)
    returns table (status text, roles text[], staff_id uuid)
    language plpgsql stable security definer set search_path = pg_catalog, public as $$
    begin
      return query ${STATUS_SQL};
    end
    $$`);
  await knex.raw('drop function session_access_status(uuid, uuid, uuid)');
}
