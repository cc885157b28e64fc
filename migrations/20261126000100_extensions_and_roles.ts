import type { Knex } from 'knex';
import { PLATFORM_ROLE, RUNTIME_ROLE } from './lib/v1';

/**
 * Extensions, the two database roles and shared trigger functions.
 * - app_runtime: what the server runs as. Not a superuser, not the owner of any table, no BYPASSRLS.
 * - app_platform: owns the few SECURITY DEFINER functions that must look across tenants (login by
 *   email, webhook routing). It bypasses row level security, cannot log in, and the runtime role
 *   can only call those functions, never read the tables through it.
 * Roles belong to the cluster, so they are created only when missing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create extension if not exists citext');
  await knex.raw('create extension if not exists btree_gist');
  await knex.raw(`
    do $$
    begin
      if not exists (select 1 from pg_roles where rolname = '${RUNTIME_ROLE}') then
        create role ${RUNTIME_ROLE} nologin nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
      end if;
      if not exists (select 1 from pg_roles where rolname = '${PLATFORM_ROLE}') then
        create role ${PLATFORM_ROLE} nologin nosuperuser bypassrls nocreatedb nocreaterole noinherit;
      end if;
    end
    $$`);
  await knex.raw(`grant usage on schema public to ${RUNTIME_ROLE}, ${PLATFORM_ROLE}`);
  await knex.raw(`
    create or replace function app_touch_updated_at() returns trigger
    language plpgsql as $$
    begin
      new.updated_at := now();
      return new;
    end
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists app_touch_updated_at()');
  await knex.raw(`revoke usage on schema public from ${RUNTIME_ROLE}, ${PLATFORM_ROLE}`);
}
