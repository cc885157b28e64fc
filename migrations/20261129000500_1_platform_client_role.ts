import type { Knex } from 'knex';

/**
 * The platform caller role, `app_platform_client`: the only role that may execute the SECURITY
 * DEFINER functions (login candidates with their password hashes, the webhook inbox across
 * companies, platform admin creation, the cross-tenant metrics). The runtime role that serves
 * tenant requests, `app_runtime`, can execute none of them, so a tenant request that gets to run
 * arbitrary SQL still reads no other company's rows through them.
 *
 * - app_platform_client is a member of app_runtime (with INHERIT): it has the runtime role's table
 *   privileges and is subject to the same row level security policies, and it has no BYPASSRLS.
 *   The membership is one way: app_runtime cannot become app_platform_client.
 * - Rule for every SECURITY DEFINER function, now and later: execute is revoked from PUBLIC and
 *   app_runtime and granted to app_platform_client only (test/tenancy/function-privileges.test.ts
 *   reads pg_catalog and fails on any function that breaks it).
 *
 * Roles belong to the cluster, so the role is created only when missing; it cannot log in until an
 * operator gives it a login (DATABASE_PLATFORM_URL).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    do $$
    begin
      if not exists (select 1 from pg_roles where rolname = 'app_platform_client') then
        create role app_platform_client nologin nosuperuser nobypassrls nocreatedb nocreaterole inherit;
      end if;
    end
    $$`);
  await knex.raw('grant app_runtime to app_platform_client');
  await knex.raw('grant usage on schema public to app_platform_client');
  await knex.raw(`
    do $$
    declare
      f regprocedure;
    begin
      for f in
        select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'public' and p.prosecdef
      loop
        execute format('revoke all on function %s from public', f);
        execute format('revoke all on function %s from app_runtime', f);
        execute format('grant execute on function %s to app_platform_client', f);
      end loop;
    end
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    do $$
    declare
      f regprocedure;
    begin
      for f in
        select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'public' and p.prosecdef
      loop
        execute format('revoke all on function %s from app_platform_client', f);
        execute format('grant execute on function %s to app_runtime', f);
      end loop;
    end
    $$`);
  await knex.raw('revoke usage on schema public from app_platform_client');
  await knex.raw('revoke app_runtime from app_platform_client');
}
